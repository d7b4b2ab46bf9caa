// Opens and backing files: the I/O mode of each open, and what each mode
// holds on the lower side.
//
// The kernel allows one I/O mode per inode at a time: while any open of an
// inode is in passthrough, every open of it must be (and the first one
// registers the inode's backing file with the kernel, FUSE_DEV_IOC_BACKING_OPEN);
// while any is mediated, none may be. So an inode that is already open keeps
// its mode and a later opener joins it; the mode and the backing file live
// in the shared inode table (inodes.ts) with the count of opens.
//
// The table lock is held only for the table's own bookkeeping, never across
// a system call: the first passthrough open prepares its backing file with
// the lock released, then takes the inode's mode if nobody did meanwhile, or
// joins theirs and gives its own back.
//
// Passthrough opens and read-only mediated ones are answered FOPEN_NOFLUSH:
// a passthrough write goes to the lower file directly and a read-only open
// has nothing to write back, so a FLUSH at close would find nothing to do,
// and the kernel need not send one (README, "Round trips"). A writable
// mediated open keeps it: at close the kernel writes a shared mapping's dirty
// pages back, and reports their errors.
//
// File handles (fh) tell the daemon what an open holds: the low 32 bits are
// a file descriptor (a mediated open's own); bit 32 marks passthrough, bit 33
// an audited open, bit 34 a passthrough writer who is not root. A
// passthrough open holds no descriptor in the daemon: the kernel keeps the
// backing file it was given, so the daemon closes its own at once (the
// requests that still reach it, fsync, fallocate, lseek, copy_file_range,
// open one for themselves: Mirror.fileFd), and a hundred thousand files can
// be open through one mount under a file limit of twenty thousand.
import { Native, St } from '../native/index.js';
import type { Request } from '../fuse/codec.js';
import { FOPEN_NOFLUSH, FOPEN_PASSTHROUGH, FUSE_OPEN_KILL_SUIDGID } from '../fuse/abi.js';
import { E, O, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, procFd } from '../native/linux.js';
import { C, FALLBACK_ERRNOS } from '../io/counters.js';
import type { Decision } from '../policy/index.js';
import { InodeTable, IoMode } from './inodes.js';
import type { Privileges } from './privileges.js';
import type { SlotFds } from './slotfds.js';
import { GEN_UNIT, NOT_OPEN, type OpenFiles } from './openfiles.js';

const TWO32 = 2 ** 32;
const FH_PASSTHROUGH = TWO32;
const FH_AUDIT = 2 * TWO32;
/** A passthrough open for writing by a caller who is not root (counted in the table's ptWriters). */
const FH_PT_WRITER = 4 * TWO32;
/** A passthrough open for writing, by anyone (counted in the table's ptWritable). */
const FH_PT_WRITABLE = 8 * TWO32;

/** The low bits of a passthrough open's fh: no descriptor (read as an int32: -1). */
const FH_NO_FD = TWO32 - 1;

/** The open-file entry (fs/openfiles.ts) a file handle names; -1 for a passthrough open (which holds no descriptor: see Mirror.fileFd). */
export const fhEntry = (fh: number): number => (fhPassthrough(fh) ? -1 : (fh % TWO32) + Math.floor(fh / GEN_UNIT) * GEN_UNIT);
/** Was this open audited by the policy (its reads and writes are logged)? */
export const fhAudited = (fh: number): boolean => (Math.floor(fh / TWO32) & 2) !== 0;
/** Is this a passthrough open (which holds no descriptor of its own)? */
export const fhPassthrough = (fh: number): boolean => (Math.floor(fh / TWO32) & 1) !== 0;
const fhPtWriter = (fh: number): boolean => (Math.floor(fh / TWO32) & 4) !== 0;
const fhPtWritable = (fh: number): boolean => (Math.floor(fh / TWO32) & 8) !== 0;

/**
 * Open flags the daemon does not pass on to its own lower file: the kernel
 * already resolved the path (NOFOLLOW, CREAT, EXCL), there is no terminal
 * (NOCTTY), and O_DIRECT would demand aligned buffers for the daemon's reads
 * and writes; the application's O_DIRECT still bypasses the FUSE page cache.
 */
export const MEDIATED_DROP = O.NOFOLLOW | O.CREAT | O.EXCL | O.NOCTTY | O.DIRECT;

/** An open's answer: fuse_open_out's fh, open_flags and backing_id. */
export interface Opened { fh: number; openFlags: number; backingId: number }

export interface OpensOptions {
  /** The mount-wide I/O mode asked for (when no policy decides). */
  io: 'passthrough' | 'mediated';
  /** The kernel agreed to FUSE_PASSTHROUGH. */
  passthrough: boolean;
  log: (msg: string) => void;
}

const EMPTY = '';

export class Opens {
  private readonly st = new Float64Array(St.LENGTH);
  /** The last open's answer, reused (one open at a time per worker). */
  private readonly out: Opened = { fh: 0, openFlags: 0, backingId: 0 };

  constructor(
    private readonly sys: Native,
    private readonly table: InodeTable,
    private readonly fds: SlotFds,
    private readonly stats: Float64Array,
    private readonly devFd: number,
    private readonly privileges: Privileges,
    private readonly opt: OpensOptions,
    private readonly files: OpenFiles,
  ) {}

  /** Does this open get kernel passthrough, if the inode allows? The rule decides; without a policy, --io. */
  wantsPassthrough(d: Decision | null): boolean {
    return this.opt.passthrough && (d ? d.action === 'passthrough' : this.opt.io === 'passthrough');
  }

  /**
   * Decide the I/O mode of one open of node slot `s` and account for it.
   * `preFd`: a file a create already opened (the backing file itself when
   * `preFdIsBacking`), taken over by this call whatever it returns.
   * Returns the open's answer (valid until the next call) or -errno.
   */
  open(s: number, req: Request, flags: number, openFlags: number, d: Decision | null, preFd = -1, preFdIsBacking = false): Opened | number {
    const { table } = this;
    // The daemon's last descriptors are root's (inodes.ts): a create checked before making the file (Mirror.create).
    if (preFd < 0 && !table.roomForOpen(req.uid === 0)) return -E.NFILE;
    const writing = (flags & O.ACCMODE) !== O.RDONLY;
    // An audited open must be mediated; any other mediated one may join an inode in passthrough.
    const mustMediate = d?.action === 'mediated' && d.audit;
    const want = this.wantsPassthrough(d) ? IoMode.Passthrough : IoMode.Mediated;
    // A writer who is not root and may end up in passthrough (its own, or
    // joining an inode already in it) is counted before the privilege check
    // below, so that a chmod adding suid/sgid either sees this writer (and is
    // refused, Mirror.setattr) or is seen by the check (and this writer
    // cleared or mediated); uncounted again unless the open is passthrough.
    const ptWriter = writing && req.uid !== 0;
    if (ptWriter) {
      table.lock();
      table.addPtWriter(s, 1);
      table.unlock();
    }
    let result: Opened | number = -E.IO;
    try {
      result = this.decide(s, req, flags, openFlags, d, preFd, preFdIsBacking, want, writing, mustMediate);
    } finally {
      if (ptWriter) {
        if (typeof result !== 'number' && fhPassthrough(result.fh)) {
          result.fh += FH_PT_WRITER;
        } else {
          table.lock();
          table.addPtWriter(s, -1);
          table.unlock();
        }
      }
    }
    return result;
  }

  private decide(s: number, req: Request, flags: number, openFlags: number, d: Decision | null, preFd: number, preFdIsBacking: boolean,
    wanted: IoMode, writing: boolean, mustMediate: boolean): Opened | number {
    let want = wanted;
    const { sys, table, stats, privileges } = this;
    const ifd = this.fds.get(s);
    if (ifd < 0) {
      if (preFd >= 0) sys.close(preFd);
      return ifd;
    }
    // The write trap: with KILLPRIV_V2 a passthrough write by this opener
    // would not clear suid/sgid/capabilities. Serve such writers ourselves.
    const privileged = writing && req.uid !== 0 &&
      sys.fstatat(ifd, EMPTY, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, this.st) === 0 &&
      privileges.hasPrivs(ifd, this.st[St.mode], this.st[St.gid], req);
    if (privileged && want === IoMode.Passthrough) {
      want = IoMode.Mediated;
      stats[C.privMediated]++;
    }

    // The inode's mode: joined if it has one, taken if not.
    table.lock();
    let mode = table.ioMode(s);
    if (mode === IoMode.Passthrough && mustMediate) {
      table.unlock();
      // The kernel cannot mix modes on one inode, and joining passthrough
      // would escape the rule (and its audit): refuse this open instead.
      stats[C.modeConflicts]++;
      if (preFd >= 0) sys.close(preFd);
      return -E.BUSY;
    }
    const joined = mode !== IoMode.None;
    if (joined || want === IoMode.Mediated) {
      if (!joined) mode = want;
      table.addOpen(s, mode, -1, req.pid, req.uid);
    }
    table.unlock();
    if (joined && mode !== want) stats[C.modeJoined]++;

    let backingId = 0;
    if (!joined && want === IoMode.Passthrough) {
      // The first open in passthrough: register a backing file for the inode,
      // read-write when the lower fs allows, so later writers can share it.
      let bfd = preFd >= 0 && preFdIsBacking ? preFd : sys.reopen(ifd, O.RDWR | O.CLOEXEC);
      if (bfd < 0 && !writing) bfd = sys.reopen(ifd, O.RDONLY | O.CLOEXEC);
      const id = bfd < 0 ? bfd : sys.backingOpen(this.devFd, bfd);
      table.lock();
      mode = table.ioMode(s);
      const raced = mode !== IoMode.None;
      if (!raced) mode = id > 0 ? IoMode.Passthrough : IoMode.Mediated;
      if (!raced && id > 0) table.addOpen(s, mode, id, req.pid, req.uid);
      else table.addOpen(s, mode, -1, req.pid, req.uid);
      table.unlock();
      if (!raced && id > 0) {
        // The kernel holds the backing file now: the daemon keeps no descriptor of it.
        sys.close(bfd);
        stats[C.backingOpened]++;
        backingId = id;
        if (bfd === preFd) preFd = -1;
      } else {
        // Not used: the registration failed, or another open set the inode's mode meanwhile.
        if (id > 0) sys.backingClose(this.devFd, id);
        if (bfd >= 0 && bfd !== preFd) sys.close(bfd);
        if (raced) {
          if (mode !== want) stats[C.modeJoined]++;
        } else {
          stats[C.openFallback]++;
          stats[C.FALLBACK_BASE + (-id < FALLBACK_ERRNOS ? -id : 0)]++;
          this.opt.log(`passthrough refused for node ${s + 1} (${sys.errnoName(-id)}): serving it mediated`);
        }
      }
    }

    const out = this.out;
    if (mode === IoMode.Passthrough) {
      if (preFd >= 0) sys.close(preFd);
      if (backingId === 0) backingId = table.backingId(s);
      // A privileged file that must join an inode already in passthrough:
      // clear now what this writer's writes would clear (see README).
      if (privileged) privileges.killPrivs(ifd, req, s + 1);
      if (flags & O.TRUNC) {
        if (openFlags & FUSE_OPEN_KILL_SUIDGID) privileges.killPrivs(ifd, req, s + 1);
        const r = sys.truncate(procFd(ifd), 0);
        if (r < 0) { this.release(s, FH_PASSTHROUGH + FH_NO_FD); return r; }
      }
      stats[C.openPassthrough]++;
      out.fh = FH_PASSTHROUGH + FH_NO_FD;
      if (writing) {
        // Counted first, then the kernel's cached attributes dropped: from
        // now on until the last such open ends, none are cached (Mirror.attrMs).
        table.lock();
        table.addPtWritable(s, 1);
        table.unlock();
        privileges.dropAttrs(s + 1);
        out.fh += FH_PT_WRITABLE;
      }
      out.openFlags = FOPEN_PASSTHROUGH | FOPEN_NOFLUSH;
      out.backingId = backingId;
      return out;
    }
    if ((flags & O.TRUNC) && (openFlags & FUSE_OPEN_KILL_SUIDGID)) privileges.killPrivs(ifd, req, s + 1);
    if (preFd >= 0 && preFdIsBacking) { sys.close(preFd); preFd = -1; }
    const fd = preFd >= 0 ? preFd : sys.reopen(ifd, (flags & ~MEDIATED_DROP) | O.CLOEXEC);
    if (fd < 0) { this.release(s, -1); return fd; }
    // Kept with the flags to open it again with (a successor process reopens it: never truncating, never creating).
    const e = this.files.add(fd, s, (flags & ~(MEDIATED_DROP | O.TRUNC)) | O.CLOEXEC);
    if (e < 0) { sys.close(fd); this.release(s, -1); return -E.NFILE; }
    table.addHeld(1);
    stats[C.openMediated]++;
    out.fh = e + (d?.audit ? FH_AUDIT : 0);
    // A writable mediated open keeps FLUSH: close(2) writes a shared mapping's dirty pages back through it.
    out.openFlags = writing ? 0 : FOPEN_NOFLUSH;
    out.backingId = 0;
    return out;
  }

  /** Undo one open's accounting (RELEASE, or a failed open); close what the last one leaves behind. */
  release(s: number, fh: number): void {
    const { sys, table } = this;
    table.lock();
    const last = table.dropOpen(s);
    if (fh >= 0 && fhPtWriter(fh)) table.addPtWriter(s, -1);
    if (fh >= 0 && fhPtWritable(fh)) table.addPtWritable(s, -1);
    table.unlock();
    if (fh >= 0 && !fhPassthrough(fh)) {
      const fd = this.files.remove(fhEntry(fh));
      if (fd !== NOT_OPEN) {
        if (fd >= 0) sys.close(fd);
        table.addHeld(-1);
      }
    }
    if (last > 0) {
      sys.backingClose(this.devFd, last);
      this.stats[C.backingClosed]++;
    }
  }
}
