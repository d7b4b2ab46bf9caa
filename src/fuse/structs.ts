// The layouts of the FUSE argument and reply structs passfs reads and writes,
// as field offsets (our own names, from the published layout of the kernel's
// uapi header, protocol 7.45). Request fields are offsets after the
// in-header (Request.u32(SetattrIn.mode)), reply fields offsets after the
// out-header (Reply.u32(OpenOut.openFlags, ...)). Const enums: each use
// compiles to the literal, so naming a field costs nothing at run time.
// SIZE is the struct's size; the opcode table (opcodes.ts) takes the fixed
// argument sizes from here.

// ---- requests ------------------------------------------------------------------------
export const enum InitIn { major = 0, minor = 4, maxReadahead = 8, flags = 12, flags2 = 16, SIZE = 64 }
export const enum ForgetIn { nlookup = 0, SIZE = 8 }
export const enum BatchForgetIn { count = 0, SIZE = 8 }
/** One entry of a BATCH_FORGET, after BatchForgetIn. */
export const enum ForgetOne { nodeid = 0, nlookup = 8, SIZE = 16 }
export const enum GetattrIn { getattrFlags = 0, fh = 8, SIZE = 16 }
export const enum SetattrIn {
  valid = 0, fh = 8, size = 16, lockOwner = 24, atime = 32, mtime = 40, ctime = 48,
  atimeNsec = 56, mtimeNsec = 60, ctimeNsec = 64, mode = 68, uid = 76, gid = 80, SIZE = 88,
}
/** Then the name. */
export const enum MknodIn { mode = 0, rdev = 4, umask = 8, SIZE = 16 }
/** Then the name. */
export const enum MkdirIn { mode = 0, umask = 4, SIZE = 8 }
/** Then the old name and the new name. */
export const enum RenameIn { newdir = 0, SIZE = 8 }
/** Then the old name and the new name. */
export const enum Rename2In { newdir = 0, flags = 8, SIZE = 16 }
/** Then the new name. */
export const enum LinkIn { oldNodeid = 0, SIZE = 8 }
export const enum OpenIn { flags = 0, openFlags = 4, SIZE = 8 }
/** Then the name. */
export const enum CreateIn { flags = 0, mode = 4, umask = 8, openFlags = 12, SIZE = 16 }
/** READ, READDIR and READDIRPLUS. */
export const enum ReadIn { fh = 0, offset = 8, size = 16, readFlags = 20, lockOwner = 24, flags = 32, SIZE = 40 }
/** Then the data. */
export const enum WriteIn { fh = 0, offset = 8, size = 16, writeFlags = 20, lockOwner = 24, flags = 32, SIZE = 40 }
export const enum ReleaseIn { fh = 0, flags = 8, releaseFlags = 12, lockOwner = 16, SIZE = 24 }
export const enum FlushIn { fh = 0, lockOwner = 16, SIZE = 24 }
/** FSYNC and FSYNCDIR. */
export const enum FsyncIn { fh = 0, fsyncFlags = 8, SIZE = 16 }
/** Then the name and the value (no FUSE_SETXATTR_EXT: the short form). */
export const enum SetxattrIn { size = 0, flags = 4, SIZE = 8 }
/** GETXATTR (then the name) and LISTXATTR. */
export const enum GetxattrIn { size = 0, SIZE = 8 }
export const enum LkIn { SIZE = 48 }
export const enum AccessIn { mask = 0, SIZE = 8 }
export const enum InterruptIn { unique = 0, SIZE = 8 }
export const enum BmapIn { SIZE = 16 }
export const enum IoctlIn { SIZE = 32 }
export const enum PollIn { SIZE = 24 }
export const enum FallocateIn { fh = 0, offset = 8, length = 16, mode = 24, SIZE = 32 }
export const enum LseekIn { fh = 0, offset = 8, whence = 16, SIZE = 24 }
/** COPY_FILE_RANGE and COPY_FILE_RANGE_64. */
export const enum CopyFileRangeIn { fhIn = 0, offIn = 8, nodeidOut = 16, fhOut = 24, offOut = 32, len = 40, flags = 48, SIZE = 56 }
export const enum SyncfsIn { SIZE = 8 }
export const enum StatxIn { SIZE = 24 }

// ---- replies -------------------------------------------------------------------------
export const enum OpenOut { fh = 0, openFlags = 8, backingId = 12, SIZE = 16 }
export const enum WriteOut { size = 0, SIZE = 8 }
/** GETXATTR and LISTXATTR asked for the size only (size 0). */
export const enum XattrSizeOut { size = 0, SIZE = 8 }
export const enum LseekOut { offset = 0, SIZE = 8 }
/** COPY_FILE_RANGE answers with a WriteOut; COPY_FILE_RANGE_64 with this. */
export const enum CopyFileRange64Out { size = 0, SIZE = 8 }
export const enum StatfsOut {
  blocks = 0, bfree = 8, bavail = 16, files = 24, ffree = 32, bsize = 40, namelen = 44, frsize = 48, SIZE = 80,
}
export const enum InitOut {
  major = 0, minor = 4, maxReadahead = 8, flags = 12, maxBackground = 16, congestionThreshold = 18,
  maxWrite = 20, timeGran = 24, maxPages = 28, flags2 = 32, maxStackDepth = 36, SIZE = 64,
}
/** fuse_dirent: then the name, padded to 8. */
export const enum Dirent { ino = 0, off = 8, namelen = 16, type = 20, name = 24 }
