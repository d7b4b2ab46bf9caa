// Plain fd I/O on caller-provided buffer slices, so hot paths can reuse one
// preallocated buffer instead of allocating per call as node:fs does.
#include <sys/uio.h>
#include <unistd.h>

#include "args.h"
#include "register.h"

namespace passfs {

namespace {

Napi::Value readFd(const Napi::CallbackInfo& info) {
  Args a(info);
  int fd = a.fd(0);
  Slice buf = a.slice(1);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), read(fd, buf.data, buf.len));
}

Napi::Value writeFd(const Napi::CallbackInfo& info) {
  Args a(info);
  int fd = a.fd(0);
  Slice buf = a.slice(1);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), write(fd, buf.data, buf.len));
}

Napi::Value preadFd(const Napi::CallbackInfo& info) {
  Args a(info);
  int fd = a.fd(0);
  Slice buf = a.slice(1);
  off_t pos = a.i64(4);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), pread(fd, buf.data, buf.len, pos));
}

Napi::Value pwriteFd(const Napi::CallbackInfo& info) {
  Args a(info);
  int fd = a.fd(0);
  Slice buf = a.slice(1);
  off_t pos = a.i64(4);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), pwrite(fd, buf.data, buf.len, pos));
}

// pread/pwrite with RWF_NOWAIT: -EAGAIN instead of waiting for the disk
// (data not in the page cache), -EOPNOTSUPP where the file system cannot tell.
Napi::Value rwNowait(const Napi::CallbackInfo& info, bool write) {
  Args a(info);
  int fd = a.fd(0);
  Slice buf = a.slice(1);
  off_t pos = a.i64(4);
  if (!a.ok()) return a.failure();
  iovec iov = {buf.data, buf.len};
  return sysResult(a.env(), write ? pwritev2(fd, &iov, 1, pos, RWF_NOWAIT) : preadv2(fd, &iov, 1, pos, RWF_NOWAIT));
}

Napi::Value preadNowait(const Napi::CallbackInfo& info) { return rwNowait(info, false); }
Napi::Value pwriteNowait(const Napi::CallbackInfo& info) { return rwNowait(info, true); }

Napi::Value closeFd(const Napi::CallbackInfo& info) {
  Args a(info);
  int fd = a.fd(0);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), close(fd));
}

}  // namespace

void registerFdIo(Napi::Env env, Napi::Object exports) {
  exportFunction<readFd>(env, exports, "read");
  exportFunction<writeFd>(env, exports, "write");
  exportFunction<preadFd>(env, exports, "pread");
  exportFunction<pwriteFd>(env, exports, "pwrite");
  exportFunction<preadNowait>(env, exports, "preadNowait");
  exportFunction<pwriteNowait>(env, exports, "pwriteNowait");
  exportFunction<closeFd>(env, exports, "close");
}

}  // namespace passfs
