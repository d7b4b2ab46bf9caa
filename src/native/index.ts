// The thin native layer. Every function here is one system call (or a tiny
// fixed sequence of them) that Node does not offer. Conventions:
//  - Failures never throw: a negative return value is -errno. Throwing would
//    cost an Error object per ENOENT, and lookups fail often.
//  - A `Name` is either a JS string or a byte view (Uint8Array). Views let the
//    FUSE layer hand names straight from the request buffer, byte-exact, so a
//    file name that is not valid UTF-8 survives the round trip.
//  - Buffers are (view, offset, length) triples so hot paths reuse one
//    preallocated buffer per worker.
//  - Numbers are doubles: offsets and sizes up to 2^53 are exact.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export type Name = string | Uint8Array;

/**
 * Indexes into the Float64Array filled by `fstatat`. `size` is a double
 * (exact below 2^53); `sizeLo`/`sizeHi`, its two 32-bit halves, are what
 * the kernel is told, so a file past 8 PiB keeps its exact size.
 * `mountRoot` is 1 when the node is the root of a mount (STATX_ATTR_MOUNT_ROOT).
 */
export const enum St {
  dev = 0, ino, mode, nlink, uid, gid, rdev, size, blocks, blksize,
  atime, atimeNs, mtime, mtimeNs, ctime, ctimeNs, sizeLo, sizeHi, mountRoot, btime, btimeNs, LENGTH,
}

/** Indexes into the Float64Array filled by `fstatfs`; `flags` are the mount's ST_* flags. */
export const enum Sfs { blocks = 0, bfree, bavail, files, ffree, bsize, namelen, frsize, flags, LENGTH }

/** Where a FUSE ring entry stands (addon/uring.cc, EntryState). */
export const enum FuseEntryState {
  /** Not registered with the kernel: never, or cancelled. */
  idle = 0,
  /** Waiting for a request. */
  armed = 1,
  /** A register or commit prepared, not yet submitted. */
  queued = 2,
  /** Holds a request nobody has seen (a dead worker's ring). */
  delivered = 3,
  /** Holds a request JS was handed and has not answered. */
  held = 4,
  /** The reply is in the entry's buffers, its commit was never submitted. */
  replyReady = 5,
}

export interface Native {
  // ---- /dev/fuse -------------------------------------------------------
  /** open("/dev/fuse", O_RDWR|O_CLOEXEC), blocking. */
  devOpen(): number;
  /** A new O_RDWR|O_CLOEXEC|O_NONBLOCK fd attached to the same connection (FUSE_DEV_IOC_CLONE). */
  devClone(masterFd: number): number;
  /** FUSE_DEV_IOC_BACKING_OPEN: returns a backing id > 0. */
  backingOpen(devFd: number, fd: number): number;
  /** FUSE_DEV_IOC_BACKING_CLOSE. */
  backingClose(devFd: number, backingId: number): number;
  /**
   * Serve a /dev/fuse clone from this thread (made non-blocking): the thread
   * waits for requests alongside its event loop, and of all the threads
   * watching clones of one connection, one is woken per request
   * (EPOLLEXCLUSIVE; addon/devwatch.cc). Requests are read into `buf` one
   * at a time and `onRequest(n)` is called with each length, at most `batch`
   * per wake-up while the loop has other work. `buf` is reused for the next
   * request as soon as the callback returns. A wake-up that finds the request
   * already taken calls `onRequest(-EAGAIN)` and the watch goes on. On a read
   * error other than EAGAIN/EINTR/ENOENT the callback gets -errno once
   * (-ENODEV after unmount) and the watch stops. Returns a watch id (> 0).
   */
  devWatch(fd: number, buf: Uint8Array, batch: number, onRequest: (n: number) => void): number;
  devUnwatch(watchId: number): number;

  mount(source: string, target: string, fstype: string, flags: number, data: string): number;
  umount2(target: string, flags: number): number;
  /** A detached clone of the mount tree at `path` with mount attributes (MOUNT_ATTR_*) set and cleared: its root's O_PATH fd, or -errno. */
  openTreeClone(path: string, attrSet: number, attrClr: number): number;

  // ---- plain fd I/O ------------------------------------------------------
  read(fd: number, buf: Uint8Array, off: number, len: number): number;
  write(fd: number, buf: Uint8Array, off: number, len: number): number;
  pread(fd: number, buf: Uint8Array, off: number, len: number, pos: number): number;
  pwrite(fd: number, buf: Uint8Array, off: number, len: number, pos: number): number;
  /** pread/pwrite with RWF_NOWAIT: -EAGAIN rather than wait for the disk; -EOPNOTSUPP where the file system cannot tell. */
  preadNowait(fd: number, buf: Uint8Array, off: number, len: number, pos: number): number;
  pwriteNowait(fd: number, buf: Uint8Array, off: number, len: number, pos: number): number;
  close(fd: number): number;

  // ---- the lower file system ----------------------------------------------
  // ---- the lower directory's watch (fs/watch.ts) --------------------------
  /** fanotify_init: a non-blocking notification group reporting directory handles with names, and object handles. */
  fanotifyInit(): number;
  /** fanotify_mark(fd, flags, mask, AT_FDCWD, path). */
  fanotifyMark(fd: number, flags: number, mask: number, path: Name): number;
  /** open_by_handle_at(mountFd, {buf[off, off + len), type}, flags | O_CLOEXEC). */
  openByHandle(mountFd: number, buf: Uint8Array, off: number, len: number, type: number, flags: number): number;
  /**
   * name_to_handle_at(fd, "", AT_EMPTY_PATH): writes the handle's type and
   * mount id (two native-endian int32) at buf[off], its bytes from off + 8;
   * returns their count, -EOVERFLOW when more than len - 8.
   */
  nameToHandle(fd: number, buf: Uint8Array, off: number, len: number): number;

  /** Plain openat: only for ".." when a path must be found by climbing (fs/lowerpath.ts); everything else uses openat2. */
  openat(dirFd: number, path: Name, flags: number, mode: number): number;
  /** openat2 with struct open_how { flags, mode, resolve }. */
  openat2(dirFd: number, path: Name, flags: number, mode: number, resolve: number): number;
  /** open("/proc/self/fd/<fd>", flags): turns an O_PATH handle into a real open file. */
  reopen(fd: number, flags: number): number;
  /** statx into `out` (see St). */
  fstatat(dirFd: number, path: Name, flags: number, out: Float64Array): number;
  fstatfs(fd: number, out: Float64Array): number;
  mkdirat(dirFd: number, name: Name, mode: number): number;
  mknodat(dirFd: number, name: Name, mode: number, rdev: number): number;
  symlinkat(target: Name, dirFd: number, name: Name): number;
  readlinkat(dirFd: number, path: Name, buf: Uint8Array, off: number, len: number): number;
  linkat(oldDirFd: number, oldPath: Name, newDirFd: number, newPath: Name, flags: number): number;
  unlinkat(dirFd: number, name: Name, flags: number): number;
  renameat2(oldDirFd: number, oldName: Name, newDirFd: number, newName: Name, flags: number): number;
  fchownat(dirFd: number, path: Name, uid: number, gid: number, flags: number): number;
  fchmodat(dirFd: number, path: Name, mode: number): number;
  fchmod(fd: number, mode: number): number;
  /** Nanosecond fields may be UTIME_NOW or UTIME_OMIT. */
  utimensat(dirFd: number, path: Name, aSec: number, aNsec: number, mSec: number, mNsec: number, flags: number): number;
  truncate(path: Name, size: number): number;
  ftruncate(fd: number, size: number): number;
  fsync(fd: number, dataOnly: boolean): number;
  fallocate(fd: number, mode: number, offset: number, len: number): number;
  /** `offset` may be a bigint: directory cookies use all 64 bits. */
  lseek(fd: number, offset: number | bigint, whence: number): number | bigint;
  copyFileRange(fdIn: number, offIn: number, fdOut: number, offOut: number, len: number, flags: number): number;
  getdents64(fd: number, buf: Uint8Array, off: number, len: number): number;
  /** xattrs by path; `follow` false uses the l* variants. len 0 asks for the size. */
  getxattr(path: Name, name: Name, buf: Uint8Array, off: number, len: number, follow: boolean): number;
  setxattr(path: Name, name: Name, buf: Uint8Array, off: number, len: number, flags: number, follow: boolean): number;
  listxattr(path: Name, buf: Uint8Array, off: number, len: number, follow: boolean): number;
  removexattr(path: Name, name: Name, follow: boolean): number;

  // ---- io_uring (one ring per worker thread) ---------------------------------------
  /**
   * Create a ring with `entries` SQEs (IORING_SETUP_SQE128 when `sqe128`, as
   * FUSE-over-io_uring needs). Completions are reaped from this thread's event
   * loop (an eventfd registered with the ring, watched by uv_poll): whenever
   * some are ready, the addon copies up to cqes.length / 2 of them into `cqes`
   * as [userData, res] pairs and calls `onComplete(n)`, repeating until the
   * completion queue is empty. Returns a ring id (> 0) or -errno.
   * `slot` > 0: if this thread dies, the ring (its FUSE entries, their
   * buffers and states) is kept for `uringAdopt(slot)`.
   */
  uringCreate(entries: number, sqe128: boolean, cqes: Float64Array, onComplete: (n: number) => void, slot: number): number;
  /** Take over the ring a dead thread left in `slot`: a ring id, or -ENOENT. */
  uringAdopt(slot: number, cqes: Float64Array, onComplete: (n: number) => void): number;
  /**
   * The ring's memory for FUSE entry buffers (`bytes`, zeroed at first): the
   * kernel may write there longer than a thread lives, so it is native and
   * owned by the ring. An adopter gets the same memory (same size, or -EINVAL).
   * Views must not be used after uringClose.
   */
  uringFuseArena(ring: number, bytes: number): ArrayBuffer | number;
  /**
   * An adopter's take-over of a dead worker's entries, through the adopter's
   * /dev/fuse clone: requests it had started are answered ECONNABORTED and
   * replies it wrote committed (prepared, not submitted). Returns
   * [aborted, userData, FuseEntryState, ...] of every entry afterwards.
   */
  uringFuseTakeOver(ring: number, devFd: number): Float64Array | number;
  /** Prepare (do not submit) a read/write of buf[off, off+len) at file position `pos`. 0, or -EBUSY when the SQ is full. */
  uringRead(ring: number, fd: number, buf: Uint8Array, off: number, len: number, pos: number, userData: number): number;
  uringWrite(ring: number, fd: number, buf: Uint8Array, off: number, len: number, pos: number, userData: number): number;
  uringFsync(ring: number, fd: number, dataOnly: boolean, userData: number): number;
  uringFallocate(ring: number, fd: number, mode: number, offset: number, len: number, userData: number): number;
  /**
   * FUSE_IO_URING_CMD_REGISTER for queue `qid` on the /dev/fuse fd: the entry's
   * header buffer (fuse_uring_req_header, 288 bytes) and payload buffer, both
   * inside the ring's arena (-EINVAL otherwise).
   */
  uringFuseRegister(ring: number, devFd: number, qid: number, header: Uint8Array, payload: Uint8Array, userData: number): number;
  /** FUSE_IO_URING_CMD_COMMIT_AND_FETCH: commit the reply now in the entry's buffers, wait for the next request. */
  uringFuseCommit(ring: number, devFd: number, qid: number, commitId: number, userData: number): number;
  /** One io_uring_enter for everything prepared: returns the number submitted or -errno. */
  uringSubmit(ring: number): number;
  /**
   * Stop watching completions and tear the ring down. FUSE requests its entries
   * still hold are first answered with ECONNABORTED, and reads and writes in
   * flight are waited for (at most 10 s).
   */
  uringClose(ring: number): number;

  // ---- process ----------------------------------------------------------------
  /** Restrict the calling thread to these CPUs: 0 or -errno. */
  pinThread(cpus: number[]): number;
  /** Raise RLIMIT_NOFILE soft limit to min(n, hard); returns the new soft limit. */
  raiseNofile(n: number): number;
  /** One sd_notify(3) datagram ("READY=1"...) to the socket at `path` ("@name": abstract): bytes sent or -errno. */
  sdNotify(path: string, message: string): number;
  /** This thread's umask (process-wide unless threadUnshareFs was called); returns the previous one. */
  umask(mask: number): number;
  gettid(): number;
  /** This thread's fsuid, fsgid and supplementary groups (`groups`: the bytes of a Uint32Array of gids): 0 or -errno. */
  threadCreds(uid: number, gid: number, groups: Uint8Array): number;
  /** Give this thread its own umask (unshare(CLONE_FS)): 0 or -errno. */
  threadUnshareFs(): number;
  /** strerror-style name for an errno, e.g. 2 -> "ENOENT". */
  errnoName(errno: number): string;

  // ---- handing a mount over (addon/handover.cc) ----
  /** An anonymous shared-memory file (close-on-exec): fd or -errno. */
  memfdCreate(name: string): number;
  /** A SharedArrayBuffer over `length` bytes of `fd` from `offset` (a page multiple), mapped shared; or -errno. */
  mapShared(fd: number, offset: number, length: number): SharedArrayBuffer | number;
  /** An sd_notify(3) datagram carrying descriptors (FDSTORE=1...): bytes sent or -errno. */
  sdNotifyFds(path: string, message: string, ...fds: number[]): number;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function load(): Native {
  // src/native/ and dist/native/ both sit two levels below the package root.
  const file = path.resolve(here, '../../build/Release/passfs.node');
  try {
    return require(file) as Native;
  } catch (e) {
    throw new Error(`passfs: native addon not built (${file}): run "npm run setup" (${(e as Error).message})`);
  }
}

export const native: Native = load();
