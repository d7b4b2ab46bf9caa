// What a daemon needs to hand its mount to a successor process, which Node
// cannot do itself:
//   memfdCreate(name): an anonymous shared-memory file (memfd_create), the
//     home of the state a successor takes over (the inode table);
//   mapShared(fd, offset, length): a SharedArrayBuffer over an mmap of it, so
//     the workers' atomics and waits work on it as on any SharedArrayBuffer,
//     and whatever the daemon writes is in the file when it dies;
//   sdNotify / sdNotifyFds(socket, message, fd...): an sd_notify(3)
//     datagram, carrying descriptors (SCM_RIGHTS) if given: FDSTORE=1 puts
//     them in systemd's fd store (or a holder's that speaks the same protocol).
//
// Node-API cannot make a SharedArrayBuffer over memory it did not allocate,
// so mapShared uses V8's API for that one step (napi_value and
// v8::Local<v8::Value> are the same handle; Node's own Node-API does the
// same conversion). This ties the built addon to the V8 of the Node major it
// was built for, which the runtime package records (scripts/package.sh).
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <v8.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <vector>

#include "args.h"
#include "register.h"

namespace passfs {

namespace {

Napi::Value memfdCreate(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf nb;
  const char* name = a.str(0, nb);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), memfd_create(name, MFD_CLOEXEC));
}

v8::Local<v8::Value> toV8(napi_value v) {
  v8::Local<v8::Value> l;
  static_assert(sizeof l == sizeof v, "napi_value is a v8::Local");
  memcpy(static_cast<void*>(&l), &v, sizeof v);
  return l;
}

napi_value fromV8(v8::Local<v8::Value> l) {
  napi_value v;
  memcpy(&v, static_cast<void*>(&l), sizeof v);
  return v;
}

// The mapping lives as long as any SharedArrayBuffer over it, in any thread:
// V8 calls this when the last one is gone.
void unmap(void* data, size_t length, void*) { munmap(data, length); }

Napi::Value mapShared(const Napi::CallbackInfo& info) {
  Args a(info);
  int fd = a.fd(0);
  uint64_t offset = a.u64(1);
  uint64_t length = a.u64(2);
  if (!a.ok()) return a.failure();
  if (length == 0 || offset % static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) != 0) return errResult(a.env(), EINVAL);
  void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED) return errResult(a.env(), errno);
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  std::shared_ptr<v8::BackingStore> store = v8::SharedArrayBuffer::NewBackingStore(p, length, unmap, nullptr);
  v8::Local<v8::SharedArrayBuffer> sab = v8::SharedArrayBuffer::New(isolate, store);
  return Napi::Value(a.env(), fromV8(sab));
}

// sdNotify(socketPath, message, fd...): one datagram to systemd's
// notification socket (NOTIFY_SOCKET; "@name" is an abstract one), the
// sd_notify(3) protocol, which Node cannot speak (no AF_UNIX datagrams),
// with the descriptors attached if any (SCM_RIGHTS; exported as sdNotifyFds
// too). Returns the bytes sent or -errno.
Napi::Value sdNotifyFds(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf pb, mb;
  const char* path = a.str(0, pb);
  const char* msg = a.str(1, mb);
  std::vector<int> fds;
  for (size_t i = 2; i < info.Length(); i++) fds.push_back(a.fd(i));
  if (!a.ok()) return a.failure();
  if (fds.size() > 253) return errResult(a.env(), EINVAL);
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  size_t len = strlen(path);
  if (len == 0 || len >= sizeof addr.sun_path) return errResult(a.env(), EINVAL);
  memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = 0;
  iovec iov = {const_cast<char*>(msg), strlen(msg)};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  msghdr mh = {};
  mh.msg_name = &addr;
  mh.msg_namelen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (!fds.empty()) {
    mh.msg_control = control.data();
    mh.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errResult(a.env(), errno);
  ssize_t n = sendmsg(s, &mh, MSG_NOSIGNAL);
  int e = errno;
  close(s);
  return n < 0 ? errResult(a.env(), e) : Napi::Number::New(a.env(), static_cast<double>(n));
}

}  // namespace

void registerHandover(Napi::Env env, Napi::Object exports) {
  exportFunction<memfdCreate>(env, exports, "memfdCreate");
  exportFunction<mapShared>(env, exports, "mapShared");
  exportFunction<sdNotifyFds>(env, exports, "sdNotifyFds");
  exportFunction<sdNotifyFds>(env, exports, "sdNotify");
}

}  // namespace passfs
