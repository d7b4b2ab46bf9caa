// /dev/fuse ioctls, defined here because the distribution's <linux/fuse.h>
// predates the backing-file (passthrough) ioctls. Values follow the kernel ABI.
#pragma once

#include <sys/ioctl.h>

#include <cstdint>

namespace passfs {

// Argument of FUSE_DEV_IOC_BACKING_OPEN: the fd to register as a backing file.
struct passfs_backing_map {
  int32_t fd;
  uint32_t flags;
  uint64_t padding;
};
static_assert(sizeof(passfs_backing_map) == 16, "FUSE backing map ABI is 16 bytes");

constexpr unsigned FUSE_DEV_IOC_MAGIC = 229;
constexpr unsigned long FUSE_DEV_IOC_CLONE = _IOR(FUSE_DEV_IOC_MAGIC, 0, uint32_t);
constexpr unsigned long FUSE_DEV_IOC_BACKING_OPEN =
    _IOW(FUSE_DEV_IOC_MAGIC, 1, struct passfs_backing_map);
constexpr unsigned long FUSE_DEV_IOC_BACKING_CLOSE = _IOW(FUSE_DEV_IOC_MAGIC, 2, uint32_t);

}  // namespace passfs
