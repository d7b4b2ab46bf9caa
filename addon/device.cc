// /dev/fuse: opening and cloning the device, backing-file registration for
// kernel passthrough, and mount/umount of the FUSE file system.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
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
}

}  // namespace passfs
