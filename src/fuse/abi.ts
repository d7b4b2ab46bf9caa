// The FUSE kernel ABI as passfs speaks it: protocol 7.45. Our own definitions,
// written from the published layout of the kernel's uapi header: the protocol
// version, flag bits, header and attribute sizes. The opcodes are one table
// in opcodes.ts, the argument and reply struct layouts in structs.ts.

export const KERNEL_MAJOR = 7;
export const KERNEL_MINOR = 45;
export const ROOT_ID = 1;

// ---- INIT flags (fuse_init_in/out .flags; bits >= 32 travel in .flags2) ----
export const Init = {
  ASYNC_READ: 0, POSIX_LOCKS: 1, FILE_OPS: 2, ATOMIC_O_TRUNC: 3, EXPORT_SUPPORT: 4,
  BIG_WRITES: 5, DONT_MASK: 6, SPLICE_WRITE: 7, SPLICE_MOVE: 8, SPLICE_READ: 9,
  FLOCK_LOCKS: 10, HAS_IOCTL_DIR: 11, AUTO_INVAL_DATA: 12, DO_READDIRPLUS: 13,
  READDIRPLUS_AUTO: 14, ASYNC_DIO: 15, WRITEBACK_CACHE: 16, NO_OPEN_SUPPORT: 17,
  PARALLEL_DIROPS: 18, HANDLE_KILLPRIV: 19, POSIX_ACL: 20, ABORT_ERROR: 21,
  MAX_PAGES: 22, CACHE_SYMLINKS: 23, NO_OPENDIR_SUPPORT: 24, EXPLICIT_INVAL_DATA: 25,
  MAP_ALIGNMENT: 26, SUBMOUNTS: 27, HANDLE_KILLPRIV_V2: 28, SETXATTR_EXT: 29,
  INIT_EXT: 30, INIT_RESERVED: 31, SECURITY_CTX: 32, HAS_INODE_DAX: 33,
  CREATE_SUPP_GROUP: 34, HAS_EXPIRE_ONLY: 35, DIRECT_IO_ALLOW_MMAP: 36,
  PASSTHROUGH: 37, NO_EXPORT_SUPPORT: 38, HAS_RESEND: 39, ALLOW_IDMAP: 40,
  OVER_IO_URING: 41, REQUEST_TIMEOUT: 42,
} as const;
export type InitFlag = keyof typeof Init;

// ---- open ------------------------------------------------------------------------
export const FOPEN_DIRECT_IO = 1 << 0;
export const FOPEN_KEEP_CACHE = 1 << 1;
export const FOPEN_NONSEEKABLE = 1 << 2;
export const FOPEN_CACHE_DIR = 1 << 3;
/** No FLUSH request at close(2) of this open (the daemon has nothing to flush). */
export const FOPEN_NOFLUSH = 1 << 5;
export const FOPEN_PASSTHROUGH = 1 << 7;
/** fuse_open_in.open_flags: the kernel asks the server to drop suid/sgid (O_TRUNC by a non-privileged opener). */
export const FUSE_OPEN_KILL_SUIDGID = 1 << 0;

// ---- setattr valid bits ------------------------------------------------------------
export const FATTR_MODE = 1 << 0;
export const FATTR_UID = 1 << 1;
export const FATTR_GID = 1 << 2;
export const FATTR_SIZE = 1 << 3;
export const FATTR_ATIME = 1 << 4;
export const FATTR_MTIME = 1 << 5;
export const FATTR_FH = 1 << 6;
export const FATTR_ATIME_NOW = 1 << 7;
export const FATTR_MTIME_NOW = 1 << 8;
export const FATTR_CTIME = 1 << 10;
export const FATTR_KILL_SUIDGID = 1 << 11;

// ---- write / getattr / fsync flags --------------------------------------------------
export const FUSE_WRITE_KILL_SUIDGID = 1 << 2;
export const FUSE_GETATTR_FH = 1 << 0;
export const FUSE_FSYNC_FDATASYNC = 1 << 0;

// ---- struct sizes (bytes) -------------------------------------------------------------
export const IN_HEADER = 40;
export const OUT_HEADER = 16;
export const ATTR = 88;
export const ENTRY_OUT = 40 + ATTR;        // 128
export const ATTR_OUT = 16 + ATTR;         // 104
export const DIRENT_BASE = 24;             // ino, off, namelen, type; then the name, padded to 8
export const DIRENTPLUS_BASE = ENTRY_OUT + DIRENT_BASE;

/** Room for the largest request: a write of max_write bytes plus its headers. */
export const MAX_WRITE = 1 << 20;
export const MAX_PAGES = MAX_WRITE / 4096;
export const REQUEST_BUFFER = MAX_WRITE + 4096;
