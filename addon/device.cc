// /dev/fuse: opening and cloning the device, backing-file registration for
// kernel passthrough, and mount/umount of the FUSE file system; and the
// private clone of LOWER's mount that the daemon may work through.
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "args.h"
#include "fuse_abi.h"
#include "register.h"

namespace passfs {

namespace {

constexpr const char* kFuseDevice = "/dev/fuse";

// Blocking: the master fd is used for the mount and the FUSE_INIT exchange.
Napi::Value devOpen(const Napi::CallbackInfo& info) {
  return sysResult(info.Env(), open(kFuseDevice, O_RDWR | O_CLOEXEC));
}

// Non-blocking because clones are served from an event loop (devWatch).
Napi::Value devClone(const Napi::CallbackInfo& info) {
  Args a(info);
  uint32_t master = static_cast<uint32_t>(a.fd(0));  // the ioctl takes a u32
  if (!a.ok()) return a.failure();
  int fd = open(kFuseDevice, O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return sysResult(a.env(), fd);
  if (ioctl(fd, FUSE_DEV_IOC_CLONE, &master) < 0) {
    int err = errno;
    close(fd);
    return errResult(a.env(), err);
  }
  return Napi::Number::New(a.env(), fd);
}

Napi::Value backingOpen(const Napi::CallbackInfo& info) {
  Args a(info);
  int devFd = a.fd(0);
  passfs_backing_map map = {};
  map.fd = a.fd(1);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), ioctl(devFd, FUSE_DEV_IOC_BACKING_OPEN, &map));
}

Napi::Value backingClose(const Napi::CallbackInfo& info) {
  Args a(info);
  int devFd = a.fd(0);
  uint32_t id = a.u32(1);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), ioctl(devFd, FUSE_DEV_IOC_BACKING_CLOSE, &id));
}

Napi::Value mountFs(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf source, target, fstype, data;
  const char* src = a.str(0, source);
  const char* tgt = a.str(1, target);
  const char* type = a.str(2, fstype);
  unsigned long flags = a.u64(3);
  const char* opts = a.str(4, data);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), mount(src, tgt, type, flags, opts));
}

// openTreeClone(path, attrSet, attrClr): a detached copy of the mount tree
// at `path` (open_tree OPEN_TREE_CLONE, submounts included), with mount
// attributes set and cleared on all of it (mount_setattr); seen by nobody
// else, gone when its last descriptor closes. Returns its root's fd (O_PATH).
Napi::Value openTreeClone(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf pb;
  const char* path = a.str(0, pb);
  uint64_t set = a.u64(1);
  uint64_t clr = a.u64(2);
  if (!a.ok()) return a.failure();
  int fd = static_cast<int>(syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
  if (fd < 0) return errResult(a.env(), errno);
  mount_attr attr = {};
  attr.attr_set = set;
  attr.attr_clr = clr;
  if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
    int e = errno;
    close(fd);
    return errResult(a.env(), e);
  }
  return Napi::Number::New(a.env(), fd);
}

Napi::Value umount2Fs(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf target;
  const char* tgt = a.str(0, target);
  int flags = a.i32(1);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), umount2(tgt, flags));
}

}  // namespace

void registerDevice(Napi::Env env, Napi::Object exports) {
  exportFunction<devOpen>(env, exports, "devOpen");
  exportFunction<devClone>(env, exports, "devClone");
  exportFunction<backingOpen>(env, exports, "backingOpen");
  exportFunction<backingClose>(env, exports, "backingClose");
  exportFunction<mountFs>(env, exports, "mount");
  exportFunction<umount2Fs>(env, exports, "umount2");
  exportFunction<openTreeClone>(env, exports, "openTreeClone");
}

}  // namespace passfs
