// Linux (x86_64 / generic) constants: errnos, open and *at flags, mode bits,
// the layouts of the kernel structs passfs parses. One home for them, at the
// floor of everything that uses them (no addon is loaded from here).

export const E = {
  PERM: 1, NOENT: 2, INTR: 4, IO: 5, BADF: 9, AGAIN: 11, NOMEM: 12, ACCES: 13,
  BUSY: 16, EXIST: 17, XDEV: 18, NODEV: 19, NOTDIR: 20, ISDIR: 21, INVAL: 22, NFILE: 23,
  MFILE: 24, FBIG: 27, NOSPC: 28, ROFS: 30, RANGE: 34, NAMETOOLONG: 36, NOSYS: 38, NOTEMPTY: 39, LOOP: 40,
  NODATA: 61, OVERFLOW: 75, OPNOTSUPP: 95, CONNABORTED: 103, STALE: 116,
} as const;

export const O = {
  RDONLY: 0, WRONLY: 1, RDWR: 2, ACCMODE: 3,
  CREAT: 0o100, EXCL: 0o200, NOCTTY: 0o400, TRUNC: 0o1000, APPEND: 0o2000,
  NONBLOCK: 0o4000, DIRECT: 0o40000, DIRECTORY: 0o200000, NOFOLLOW: 0o400000,
  NOATIME: 0o1000000, CLOEXEC: 0o2000000, PATH: 0o10000000,
  /** O_TMPFILE as open(2) takes it (with O_DIRECTORY), and its own bit alone. */
  TMPFILE: 0o20200000, TMPFILE_BIT: 0o20000000,
} as const;

export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_EMPTY_PATH = 0x1000;
export const RENAME_EXCHANGE = 2;

export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
/** Every path the daemon resolves on the lower side stays beneath its start and follows no links. */
export const RESOLVE_CONFINED = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_IXGRP = 0o0010;

export const UTIME_NOW = (1 << 30) - 1;
export const UTIME_OMIT = (1 << 30) - 2;

export const SEEK_SET = 0;

export const MNT_DETACH = 2;

/** mount(2) flags; statfs(2) reports a mount's as ST_* with the same values, but for nosymfollow. */
export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_NOSYMFOLLOW = 0x100;
export const MS_NOATIME = 0x400;
export const MS_NODIRATIME = 0x800;
export const MS_STRICTATIME = 1 << 24;
/** mount_setattr(2) attributes. */
export const MOUNT_ATTR_NOATIME = 0x10;
export const MOUNT_ATTR_STRICTATIME = 0x20;
export const MOUNT_ATTR__ATIME = 0x70;
export const MOUNT_ATTR_NODIRATIME = 0x80;
/** statfs(2)'s f_flags bit for nosymfollow. */
export const ST_NOSYMFOLLOW = 0x2000;

/** The magic link of one of the daemon's own fds (only ever used on handles that point inside LOWER). */
export const procFd = (fd: number): string => `/proc/self/fd/${fd}`;

export const XATTR_CAPS = 'security.capability';

/** The longest name a lower file system takes (one path component, in bytes). */
export const NAME_MAX = 255;
/** The most one read, write or copy_file_range moves (INT_MAX rounded down to a page). */
export const MAX_RW_COUNT = 0x7ffff000;

/** struct linux_dirent64, as getdents64 fills it: the name is NUL-terminated. */
export const enum Dirent64 { ino = 0, off = 8, reclen = 16, type = 18, name = 19 }
