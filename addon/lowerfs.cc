// The lower (mirrored) file system: the *at family relative to directory fds,
// stat/statfs into preallocated Float64Arrays, and the remaining per-file
// calls node:fs lacks or wraps too expensively.
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>

#include "args.h"
#include "register.h"

namespace passfs {

namespace {

// Mirrors the St and Sfs enums in src/native/index.ts.
enum St { kDev, kIno, kMode, kNlink, kUid, kGid, kRdev, kSize, kBlocks, kBlksize,
          kAtime, kAtimeNs, kMtime, kMtimeNs, kCtime, kCtimeNs, kSizeLo, kSizeHi, kMountRoot,
          kBtime, kBtimeNs, kStLength };
enum Sfs { kFBlocks, kFBfree, kFBavail, kFFiles, kFFfree, kFBsize, kFNamelen, kFFrsize,
           kFFlags, kSfsLength };

// Every fd this addon opens is close-on-exec: the daemon may spawn helpers
// (fusermount, tests) that must not inherit lower-file-system handles.
Napi::Value openatFs(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf pb;
  int dirFd = a.fd(0);
  const char* path = a.name(1, pb);
  int flags = a.i32(2);
  mode_t mode = a.u32(3);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), openat(dirFd, path, flags | O_CLOEXEC, mode));
}

Napi::Value openat2Fs(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf pb;
  int dirFd = a.fd(0);
  const char* path = a.name(1, pb);
  open_how how = {};
  how.flags = a.u32(2) | O_CLOEXEC;
  how.mode = a.u32(3);
  how.resolve = a.u32(4);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), syscall(SYS_openat2, dirFd, path, &how, sizeof how));
}

Napi::Value reopen(const Napi::CallbackInfo& info) {
  Args a(info);
  int fd = a.fd(0);
  int flags = a.i32(1);
  if (!a.ok()) return a.failure();
  char path[32];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  return sysResult(a.env(), open(path, flags | O_CLOEXEC));
}

Napi::Value fstatatFs(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf pb;
  int dirFd = a.fd(0);
  const char* path = a.name(1, pb);
  int flags = a.i32(2);
  double* out = a.f64(3, kStLength);
  if (!a.ok()) return a.failure();
  // statx, not fstatat: the same work, plus whether the node is the root of
  // a mount (a mount inside LOWER, whose flags the mirror must respect).
  struct statx st;
  int rc = statx(dirFd, path, flags, STATX_BASIC_STATS | STATX_BTIME, &st);
  if (rc < 0) return sysResult(a.env(), rc);
  out[kDev] = makedev(st.stx_dev_major, st.stx_dev_minor);
  out[kIno] = st.stx_ino;
  out[kMode] = st.stx_mode;
  out[kNlink] = st.stx_nlink;
  out[kUid] = st.stx_uid;
  out[kGid] = st.stx_gid;
  out[kRdev] = makedev(st.stx_rdev_major, st.stx_rdev_minor);
  out[kSize] = st.stx_size;
  // A double holds sizes exactly only below 2^53: the halves carry all bits.
  out[kSizeLo] = st.stx_size & 0xffffffffu;
  out[kSizeHi] = st.stx_size >> 32;
  out[kBlocks] = st.stx_blocks;
  out[kBlksize] = st.stx_blksize;
  out[kAtime] = st.stx_atime.tv_sec;
  out[kAtimeNs] = st.stx_atime.tv_nsec;
  out[kMtime] = st.stx_mtime.tv_sec;
  out[kMtimeNs] = st.stx_mtime.tv_nsec;
  out[kCtime] = st.stx_ctime.tv_sec;
  out[kCtimeNs] = st.stx_ctime.tv_nsec;
  out[kMountRoot] = (st.stx_attributes_mask & st.stx_attributes & STATX_ATTR_MOUNT_ROOT) ? 1 : 0;
  // The birth time tells one inode from a later one that got its number (0: the fs does not keep it).
  bool born = (st.stx_mask & STATX_BTIME) != 0;
  out[kBtime] = born ? st.stx_btime.tv_sec : 0;
  out[kBtimeNs] = born ? st.stx_btime.tv_nsec : 0;
  return Napi::Number::New(a.env(), 0);
}

Napi::Value fstatfsFs(const Napi::CallbackInfo& info) {
  Args a(info);
  int fd = a.fd(0);
  double* out = a.f64(1, kSfsLength);
  if (!a.ok()) return a.failure();
  struct statfs sf;
  int rc = fstatfs(fd, &sf);
  if (rc < 0) return sysResult(a.env(), rc);
  out[kFBlocks] = sf.f_blocks;
  out[kFBfree] = sf.f_bfree;
  out[kFBavail] = sf.f_bavail;
  out[kFFiles] = sf.f_files;
  out[kFFfree] = sf.f_ffree;
  out[kFBsize] = sf.f_bsize;
  out[kFNamelen] = sf.f_namelen;
  out[kFFrsize] = sf.f_frsize;
  // ST_RDONLY, ST_NOSUID, ST_NODEV, ST_NOEXEC...: the mount's flags.
  out[kFFlags] = sf.f_flags;
  return Napi::Number::New(a.env(), 0);
}

Napi::Value mkdiratFs(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf pb;
  int dirFd = a.fd(0);
  const char* name = a.name(1, pb);
  mode_t mode = a.u32(2);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), mkdirat(dirFd, name, mode));
}

Napi::Value mknodatFs(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf pb;
  int dirFd = a.fd(0);
  const char* name = a.name(1, pb);
  mode_t mode = a.u32(2);
  dev_t rdev = a.u64(3);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), mknodat(dirFd, name, mode, rdev));
}

Napi::Value symlinkatFs(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf tb, nb;
  const char* target = a.name(0, tb);
  int dirFd = a.fd(1);
  const char* name = a.name(2, nb);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), symlinkat(target, dirFd, name));
}

Napi::Value readlinkatFs(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf pb;
  int dirFd = a.fd(0);
  const char* path = a.name(1, pb);
  Slice buf = a.slice(2);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), readlinkat(dirFd, path, reinterpret_cast<char*>(buf.data), buf.len));
}

Napi::Value linkatFs(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf ob, nb;
  int oldDirFd = a.fd(0);
  const char* oldPath = a.name(1, ob);
  int newDirFd = a.fd(2);
  const char* newPath = a.name(3, nb);
  int flags = a.i32(4);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), linkat(oldDirFd, oldPath, newDirFd, newPath, flags));
}

Napi::Value unlinkatFs(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf pb;
  int dirFd = a.fd(0);
  const char* name = a.name(1, pb);
  int flags = a.i32(2);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), unlinkat(dirFd, name, flags));
}

Napi::Value renameat2Fs(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf ob, nb;
  int oldDirFd = a.fd(0);
  const char* oldName = a.name(1, ob);
  int newDirFd = a.fd(2);
  const char* newName = a.name(3, nb);
  unsigned flags = a.u32(4);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), renameat2(oldDirFd, oldName, newDirFd, newName, flags));
}

Napi::Value fchownatFs(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf pb;
  int dirFd = a.fd(0);
  const char* path = a.name(1, pb);
  uid_t uid = a.u32(2);  // -1 (leave unchanged) arrives as 0xffffffff
  gid_t gid = a.u32(3);
  int flags = a.i32(4);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), fchownat(dirFd, path, uid, gid, flags));
}

Napi::Value fchmodatFs(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf pb;
  int dirFd = a.fd(0);
  const char* path = a.name(1, pb);
  mode_t mode = a.u32(2);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), fchmodat(dirFd, path, mode, 0));
}

Napi::Value fchmodFs(const Napi::CallbackInfo& info) {
  Args a(info);
  int fd = a.fd(0);
  mode_t mode = a.u32(1);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), fchmod(fd, mode));
}

Napi::Value utimensatFs(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf pb;
  int dirFd = a.fd(0);
  const char* path = a.name(1, pb);
  timespec times[2];
  times[0].tv_sec = a.i64(2);
  times[0].tv_nsec = a.i64(3);  // may be UTIME_NOW or UTIME_OMIT
  times[1].tv_sec = a.i64(4);
  times[1].tv_nsec = a.i64(5);
  int flags = a.i32(6);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), utimensat(dirFd, path, times, flags));
}

Napi::Value truncateFs(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf pb;
  const char* path = a.name(0, pb);
  off_t size = a.i64(1);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), truncate(path, size));
}

Napi::Value ftruncateFs(const Napi::CallbackInfo& info) {
  Args a(info);
  int fd = a.fd(0);
  off_t size = a.i64(1);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), ftruncate(fd, size));
}

Napi::Value fsyncFs(const Napi::CallbackInfo& info) {
  Args a(info);
  int fd = a.fd(0);
  bool dataOnly = a.flag(1);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), dataOnly ? fdatasync(fd) : fsync(fd));
}

Napi::Value fallocateFs(const Napi::CallbackInfo& info) {
  Args a(info);
  int fd = a.fd(0);
  int mode = a.i32(1);
  off_t offset = a.i64(2);
  off_t len = a.i64(3);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), fallocate(fd, mode, offset, len));
}

Napi::Value lseekFs(const Napi::CallbackInfo& info) {
  Args a(info);
  int fd = a.fd(0);
  off_t offset = a.i64(1);
  int whence = a.i32(2);
  if (!a.ok()) return a.failure();
  off_t r = lseek(fd, offset, whence);
  // Past 2^53 a double would round the offset: such results come as a bigint.
  if (r > (static_cast<off_t>(1) << 53)) return Napi::BigInt::New(a.env(), static_cast<int64_t>(r));
  return sysResult(a.env(), r);
}

Napi::Value copyFileRangeFs(const Napi::CallbackInfo& info) {
  Args a(info);
  int fdIn = a.fd(0);
  off_t offIn = a.i64(1);
  int fdOut = a.fd(2);
  off_t offOut = a.i64(3);
  size_t len = a.u64(4);
  unsigned flags = a.u32(5);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), copy_file_range(fdIn, &offIn, fdOut, &offOut, len, flags));
}

Napi::Value getdents64Fs(const Napi::CallbackInfo& info) {
  Args a(info);
  int fd = a.fd(0);
  Slice buf = a.slice(1);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), getdents64(fd, buf.data, buf.len));
}

}  // namespace

void registerLowerFs(Napi::Env env, Napi::Object exports) {
  exportFunction<openatFs>(env, exports, "openat");
  exportFunction<openat2Fs>(env, exports, "openat2");
  exportFunction<reopen>(env, exports, "reopen");
  exportFunction<fstatatFs>(env, exports, "fstatat");
  exportFunction<fstatfsFs>(env, exports, "fstatfs");
  exportFunction<mkdiratFs>(env, exports, "mkdirat");
  exportFunction<mknodatFs>(env, exports, "mknodat");
  exportFunction<symlinkatFs>(env, exports, "symlinkat");
  exportFunction<readlinkatFs>(env, exports, "readlinkat");
  exportFunction<linkatFs>(env, exports, "linkat");
  exportFunction<unlinkatFs>(env, exports, "unlinkat");
  exportFunction<renameat2Fs>(env, exports, "renameat2");
  exportFunction<fchownatFs>(env, exports, "fchownat");
  exportFunction<fchmodatFs>(env, exports, "fchmodat");
  exportFunction<fchmodFs>(env, exports, "fchmod");
  exportFunction<utimensatFs>(env, exports, "utimensat");
  exportFunction<truncateFs>(env, exports, "truncate");
  exportFunction<ftruncateFs>(env, exports, "ftruncate");
  exportFunction<fsyncFs>(env, exports, "fsync");
  exportFunction<fallocateFs>(env, exports, "fallocate");
  exportFunction<lseekFs>(env, exports, "lseek");
  exportFunction<copyFileRangeFs>(env, exports, "copyFileRange");
  exportFunction<getdents64Fs>(env, exports, "getdents64");
}

}  // namespace passfs
