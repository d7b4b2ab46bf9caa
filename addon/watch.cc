// The lower directory's watch: fanotify, for the system calls Node lacks.
// The daemon (src/fs/watch.ts) marks each directory it knows, reads the
// events with devWatch (a plain non-blocking read in the thread's loop) and
// parses them itself; here only fanotify_init, fanotify_mark and the file
// handle calls: open_by_handle_at turns an event's (or an inode table
// slot's) handle back into a file, name_to_handle_at makes a slot's.
#include <fcntl.h>
#include <sys/fanotify.h>

#include <cstdlib>
#include <cstring>

#include "args.h"
#include "register.h"

namespace passfs {

namespace {

// fanotifyInit(): a notification group that reports directory file handles
// and names (FAN_REPORT_DFID_NAME) and the object's own handle (FAN_REPORT_FID).
Napi::Value fanotifyInit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME | FAN_REPORT_FID,
                         O_RDONLY | O_CLOEXEC | O_LARGEFILE);
  return sysResult(env, fd);
}

// fanotifyMark(fd, flags, mask, path): fanotify_mark on `path` (followed).
Napi::Value fanotifyMark(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf pb;
  int fd = a.fd(0);
  uint32_t flags = a.u32(1);
  uint64_t mask = a.u64(2);
  const char* path = a.name(3, pb);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), fanotify_mark(fd, flags, mask, AT_FDCWD, path));
}

// openByHandle(mountFd, buf, off, len, type, flags): open_by_handle_at with
// the handle's bytes (an event's f_handle, or an inode table slot's) and type.
Napi::Value openByHandle(const Napi::CallbackInfo& info) {
  Args a(info);
  int mountFd = a.fd(0);
  Slice h = a.slice(1);
  int32_t type = a.i32(4);
  int32_t flags = a.i32(5);
  if (!a.ok()) return a.failure();
  if (h.len == 0 || h.len > MAX_HANDLE_SZ) return errResult(a.env(), EINVAL);
  union {
    file_handle fh;
    unsigned char room[sizeof(file_handle) + MAX_HANDLE_SZ];
  } u;
  u.fh.handle_bytes = static_cast<unsigned>(h.len);
  u.fh.handle_type = type;
  memcpy(u.fh.f_handle, h.data, h.len);
  return sysResult(a.env(), open_by_handle_at(mountFd, &u.fh, flags | O_CLOEXEC));
}

// nameToHandle(fd, buf, off, len): name_to_handle_at(fd, "", AT_EMPTY_PATH).
// Writes the handle's type and mount id (two native-endian int32s) at
// buf[off], the handle's bytes after them; returns the bytes' count, or
// -EOVERFLOW when they do not fit in len - 8.
Napi::Value nameToHandle(const Napi::CallbackInfo& info) {
  Args a(info);
  int fd = a.fd(0);
  Slice out = a.slice(1);
  if (!a.ok()) return a.failure();
  if (out.len < 8) return errResult(a.env(), EINVAL);
  union {
    file_handle fh;
    unsigned char room[sizeof(file_handle) + MAX_HANDLE_SZ];
  } u;
  u.fh.handle_bytes = MAX_HANDLE_SZ;
  int mountId = 0;
  int rc = name_to_handle_at(fd, "", &u.fh, &mountId, AT_EMPTY_PATH);
  if (rc < 0) return sysResult(a.env(), rc);
  if (u.fh.handle_bytes > out.len - 8) return errResult(a.env(), EOVERFLOW);
  int32_t ids[2] = {u.fh.handle_type, mountId};
  memcpy(out.data, ids, sizeof ids);
  memcpy(out.data + 8, u.fh.f_handle, u.fh.handle_bytes);
  return Napi::Number::New(a.env(), u.fh.handle_bytes);
}

}  // namespace

void registerWatch(Napi::Env env, Napi::Object exports) {
  exportFunction<fanotifyInit>(env, exports, "fanotifyInit");
  exportFunction<fanotifyMark>(env, exports, "fanotifyMark");
  exportFunction<openByHandle>(env, exports, "openByHandle");
  exportFunction<nameToHandle>(env, exports, "nameToHandle");
}

}  // namespace passfs
