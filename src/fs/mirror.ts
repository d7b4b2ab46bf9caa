// The mirror file system: every FUSE request a mirror needs, served on the
// lower directory through O_PATH handles and *at calls.
//
// Confinement: the daemon never resolves a path with more than one component
// and never follows a link. Names come from the kernel one component at a
// time and are resolved relative to the parent's O_PATH handle with
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS (or with
// AT_SYMLINK_NOFOLLOW for the calls openat2 does not cover). Symlinks are
// handed back to the kernel as text, which follows them in the caller's own
// view, exactly as it would natively. "/proc/self/fd/N" is only ever used on
// the daemon's own handles, which already point inside LOWER.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Native, St, Sfs } from '../native/index.js';
import {
  Op, OP_SLOTS, ROOT_ID, IN_HEADER, ENTRY_OUT, ATTR_OUT, OPEN_OUT, WRITE_IN,
  DIRENT_BASE, DIRENTPLUS_BASE, STATFS_OUT,
  FATTR_MODE, FATTR_UID, FATTR_GID, FATTR_SIZE, FATTR_ATIME, FATTR_MTIME, FATTR_FH,
  FATTR_ATIME_NOW, FATTR_MTIME_NOW, FATTR_KILL_SUIDGID,
  FOPEN_PASSTHROUGH, FUSE_OPEN_KILL_SUIDGID, FUSE_WRITE_KILL_SUIDGID, FUSE_FSYNC_FDATASYNC,
} from '../fuse/abi.js';
import { Request, Reply, decodeDev } from '../fuse/codec.js';
import { InodeTable, IoMode } from './inodes.js';
import { flagNames, notCrossable } from './mountflags.js';
import { LowerPaths } from './lowerpath.js';
import { PathCache, PathMemory } from './paths.js';
import { C, MAX_RULES } from '../server/stats.js';
import type { AuditLog } from '../server/audit.js';
import { Policy, Decision, OpenContext, PathView, accessFromFlags, processInfo, viewOfPath } from '../policy/index.js';
import { Exchange, Handler, PENDING } from '../server/transports/transport.js';
import { Complete, IoKind, MediatedEngine } from '../io/mediated.js';
import {
  E, O, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR, AT_FDCWD, RESOLVE_CONFINED, RENAME_EXCHANGE,
  S_IFMT, S_IFDIR, S_IFREG, S_IFLNK, S_ISUID, S_ISGID, S_IXGRP, UTIME_NOW, UTIME_OMIT, SEEK_SET, XATTR_CAPS,
  NAME_MAX, MAX_RW_COUNT,
} from './linux.js';

/** Handlers return a body length (>= 0), a negative errno, or NO_REPLY. */
export const NO_REPLY = -0x10000;
/** Names of new entries, for the policy (cheaper than a Buffer made per call). */
const UTF8 = new TextDecoder();
/** A handler's way of saying the engine took the request and will send its reply. */
const PENDING_BODY = -0x10001;
/** The handler finished the whole reply itself (its length is in `finished`). */
const FINISHED = -0x10002;

export interface MirrorOptions {
  /** The mount-wide I/O mode asked for. */
  io: 'passthrough' | 'mediated';
  /** The kernel agreed to FUSE_PASSTHROUGH. */
  passthrough: boolean;
  /** Entry and attribute cache timeout. */
  validMs: number;
  /** Log one line (fallbacks and other noteworthy events). */
  log: (msg: string) => void;
  /** Builds the engine that serves mediated reads and writes. */
  engine: (complete: Complete) => MediatedEngine;
  /** The lower directory's real path: policy paths are relative to it. */
  lowerRoot: string;
  /** mount(2) flags of the passfs mount: a mount inside LOWER is entered only within them (mountflags.ts). */
  mountFlags: number;
  /** Per-file decisions; null: every file follows `io`. */
  policy: Policy | null;
  audit: AuditLog | null;
  /** Shared memory for the policy's remembered paths (null without a policy). */
  paths: PathMemory | null;
}

// File handles: the low 32 bits are the fd; bit 32 marks a passthrough open
// (the fd is the inode's shared backing file), bit 33 an audited one.
const FH_PASSTHROUGH = 2 ** 32;
const FH_AUDIT = 2 ** 33;
const fhFlags = (fh: number): number => Math.floor(fh / 2 ** 32);
const TWO32 = 2 ** 32;
const EMPTY = '';
const DOT = 0x2e;
/**
 * Open flags the daemon does not pass on to its own lower file: the kernel
 * already resolved the path (NOFOLLOW, CREAT, EXCL), there is no terminal
 * (NOCTTY), and O_DIRECT would demand aligned buffers for the daemon's reads
 * and writes; the application's O_DIRECT still bypasses the FUSE page cache.
 */
const MEDIATED_DROP = O.NOFOLLOW | O.CREAT | O.EXCL | O.NOCTTY | O.DIRECT;
const SLASH = 0x2f;

type OpHandler = (req: Request, rep: Reply, x: Exchange) => number;

export class Mirror implements Handler {
  private readonly st = new Float64Array(St.LENGTH);
  private readonly st2 = new Float64Array(St.LENGTH);
  private readonly sfs = new Float64Array(Sfs.LENGTH);
  private readonly dents = new Uint8Array(256 * 1024);
  private readonly dentsView = new DataView(this.dents.buffer);
  private readonly small = new Uint8Array(8);
  /** The operations table: one entry per opcode, unknown ones get ENOSYS. */
  private readonly ops: (OpHandler | undefined)[] = new Array(OP_SLOTS);
  readonly engine: MediatedEngine;
  private policy: Policy | null;
  private readonly audit: AuditLog | null;
  /** Paths of the nodes this worker looked up, for the policy (filled only with one). */
  private readonly paths: PathCache;
  private readonly lowerPaths: LowerPaths;

  constructor(
    private readonly sys: Native,
    private readonly table: InodeTable,
    private readonly stats: Float64Array,
    private readonly devFd: number,
    private readonly opt: MirrorOptions,
  ) {
    const t: Partial<Record<keyof typeof Op, OpHandler>> = {
      LOOKUP: this.lookup, FORGET: this.forget, BATCH_FORGET: this.batchForget,
      GETATTR: this.getattr, SETATTR: this.setattr, READLINK: this.readlink,
      SYMLINK: this.symlink, MKNOD: this.mknod, MKDIR: this.mkdir,
      UNLINK: this.unlink, RMDIR: this.rmdir, RENAME: this.rename, RENAME2: this.rename2,
      LINK: this.link, OPEN: this.open, CREATE: this.create, READ: this.read,
      WRITE: this.write, FLUSH: this.flush, RELEASE: this.release, FSYNC: this.fsync,
      OPENDIR: this.opendir, READDIR: this.readdir, READDIRPLUS: this.readdirplus,
      RELEASEDIR: this.releasedir, FSYNCDIR: this.fsyncdir, STATFS: this.statfs,
      SETXATTR: this.setxattr, GETXATTR: this.getxattr, LISTXATTR: this.listxattr,
      REMOVEXATTR: this.removexattr, FALLOCATE: this.fallocate, LSEEK: this.lseek,
      COPY_FILE_RANGE: this.copyFileRange, COPY_FILE_RANGE_64: this.copyFileRange,
      INTERRUPT: this.interrupt, DESTROY: this.destroy,
    };
    for (const [name, fn] of Object.entries(t)) this.ops[Op[name as keyof typeof Op]] = fn!.bind(this);
    this.engine = opt.engine(this.complete);
    this.policy = opt.policy;
    this.audit = opt.audit;
    this.paths = new PathCache(table, opt.paths, opt.validMs);
    this.lowerPaths = new LowerPaths(sys, table.fd(ROOT_ID - 1), opt.lowerRoot);
  }

  /** A reloaded policy: new opens follow it, open files keep their mode. */
  setPolicy(p: Policy | null): void {
    this.policy = p;
  }

  /** Serve one request; returns the reply length to send, 0 for no reply, or PENDING (sent later by the engine). */
  dispatch(x: Exchange): number {
    const { req, rep } = x;
    const op = req.opcode;
    this.stats[op < OP_SLOTS ? op : 0]++;
    const fn = op < OP_SLOTS ? this.ops[op] : undefined;
    let r: number;
    try {
      r = fn ? fn(req, rep, x) : -E.NOSYS;
    } catch (e) {
      this.opt.log(`internal error in ${op}: ${(e as Error).stack ?? e}`);
      r = -E.IO;
    }
    if (r === NO_REPLY) return 0;
    if (r === PENDING_BODY) return PENDING;
    if (r === FINISHED) return this.finished;
    if (r < 0) {
      // Expected answers are not errors: a missing name, an opcode we leave to the kernel.
      if (r !== -E.NOENT && r !== -E.NOSYS) this.stats[C.errors]++;
      return rep.finish(req, 0, -r);
    }
    return rep.finish(req, r);
  }

  /** After each request's reply: work the reply need not wait for (see PathCache.rememberAfterReply). */
  afterReply(): void {
    this.paths.flush();
  }

  // ---- helpers ------------------------------------------------------------------
  /** The slot of the request's node, or -1 for an id the table does not hold. */
  private slot(nodeid: number): number {
    const s = nodeid - 1;
    return this.table.valid(s) ? s : -1;
  }

  private proc(fd: number): string {
    return `/proc/self/fd/${fd}`;
  }

  /**
   * Why a name from the kernel cannot be used, as -errno (0: it can). FUSE
   * passes names of any length to the daemon, which answers for NAME_MAX as
   * the lower file system would; names must be single, real components: the
   * kernel never sends others, and `other` refuses them if it did.
   */
  private nameError(name: Uint8Array, other: number): number {
    const n = name.length;
    if (n > NAME_MAX) return -E.NAMETOOLONG;
    if (n === 0 || (name[0] === DOT && (n === 1 || (n === 2 && name[1] === DOT))) || name.indexOf(SLASH) >= 0) return other;
    return 0;
  }

  /**
   * Resolve `name` under the directory handle `pfd`, count one lookup and
   * write a fuse_entry_out at body offset `off`. Returns 0 or -errno.
   * `opened`: a create's open file, which is the entry (the name may hold
   * another file by now, swapped in on the lower side).
   */
  private enter(pfd: number, name: Uint8Array, rep: Reply, off: number, parent: number, opened = -1): number {
    const { sys, table, st } = this;
    const mark = this.paths.mark();
    let r = opened >= 0 ? sys.fstatat(opened, EMPTY, AT_EMPTY_PATH, st) : sys.fstatat(pfd, name, AT_SYMLINK_NOFOLLOW, st);
    if (r < 0) return r;
    table.lock();
    let s = table.find(st[St.dev], st[St.ino]);
    if (s >= 0) table.addLookup(s);
    table.unlock();
    if (s < 0) {
      const fd = opened >= 0 ? sys.reopen(opened, O.PATH | O.CLOEXEC) : sys.openat2(pfd, name, O.PATH | O.NOFOLLOW | O.CLOEXEC, 0, RESOLVE_CONFINED);
      if (fd < 0) return fd;
      r = sys.fstatat(fd, EMPTY, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, st);
      if (r === 0 && st[St.mountRoot] && this.notCrossing(fd)) r = -E.ACCES;
      if (r < 0) { sys.close(fd); return r; }
      table.lock();
      s = table.find(st[St.dev], st[St.ino]);
      if (s >= 0) table.addLookup(s);
      else s = table.insert(fd, st[St.mode] & S_IFMT, st[St.dev], st[St.ino]);
      const inserted = s >= 0 && table.fd(s) === fd;
      table.unlock();
      if (!inserted) sys.close(fd);
      if (s < 0) return -E.NFILE;
    }
    rep.entry(off, s + 1, table.generation(s), st, this.opt.validMs);
    // The policy's record of the name: written once the reply is out (afterReply).
    if (this.policy) this.paths.rememberAfterReply(s, parent, name, mark);
    return 0;
  }

  /**
   * A mount found inside LOWER that forbids what the passfs mount allows
   * (noexec under an exec mount, say) is not entered: the kernel would
   * apply only the passfs mount's flags there (fs/mountflags.ts).
   */
  private notCrossing(fd: number): boolean {
    if (this.sys.fstatfs(fd, this.sfs) < 0) return true;
    const extra = notCrossable(this.sfs[Sfs.flags], this.opt.mountFlags);
    if (extra === 0) return false;
    const names = flagNames(extra);
    let where = '?';
    try {
      where = this.lowerPaths.relative(fd);
    } catch { /* the handle is unusable: the log line says less */ }
    this.opt.log(`not entering the mount at ${where} in LOWER: it is ${names} and the passfs mount is not (EACCES; README, "Mount options")`);
    return true;
  }

  /** The table slot of the node at `name` in directory `pfd`, or -1. */
  private slotAt(pfd: number, name: Uint8Array): number {
    if (this.sys.fstatat(pfd, name, AT_SYMLINK_NOFOLLOW, this.st2) < 0) return -1;
    this.table.lock();
    const s = this.table.find(this.st2[St.dev], this.st2[St.ino]);
    this.table.unlock();
    return s;
  }

  private stat(fd: number): number {
    return this.sys.fstatat(fd, EMPTY, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, this.st);
  }

  /**
   * A new node belongs to the caller. The daemon creates as root (so the
   * lower fs applies setgid-directory inheritance), then hands it over.
   */
  private chownNew(pfd: number, fd: number, req: Request, mode: number): void {
    if (req.uid === 0 && req.gid === 0) return;
    const { sys, st2 } = this;
    let gid = req.gid;
    if (sys.fstatat(pfd, EMPTY, AT_EMPTY_PATH, st2) === 0 && (st2[St.mode] & S_ISGID)) gid = st2[St.gid];
    // By the handle of the node the daemon made, never by its name again: on
    // the lower side the name can be swapped meanwhile (for a symlink to any
    // file on the host, say), and root would chown or chmod that instead.
    sys.fchownat(fd, EMPTY, req.uid, gid, AT_EMPTY_PATH);
    // chown drops suid/sgid on regular files; put back what the caller asked for.
    if ((mode & S_IFMT) === S_IFREG && (mode & (S_ISUID | S_ISGID))) sys.fchmodat(AT_FDCWD, this.proc(fd), mode & 0o7777);
  }

  /**
   * Give the node just made at `name` (by mknod, mkdir or symlink, which
   * return no handle) to its caller: only if the name still holds a node of
   * that type, root's, with one link (a directory: any), i.e. not something
   * swapped in on the lower side since.
   */
  private chownMade(pfd: number, name: Uint8Array, req: Request, mode: number): void {
    if (req.uid === 0 && req.gid === 0) return;
    const { sys, st2 } = this;
    const h = sys.openat2(pfd, name, O.PATH | O.NOFOLLOW | O.CLOEXEC, 0, RESOLVE_CONFINED);
    if (h < 0) return;
    const type = (mode & S_IFMT) || S_IFREG;
    if (sys.fstatat(h, EMPTY, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, st2) === 0 && (st2[St.mode] & S_IFMT) === type &&
        st2[St.uid] === 0 && (type === S_IFDIR || st2[St.nlink] === 1)) {
      this.chownNew(pfd, h, req, type | (mode & 0o7777));
    }
    sys.close(h);
  }

  /**
   * A create without O_EXCL that found the name taken (the file appeared on
   * the lower side after the kernel's lookup said it was not there): open it
   * as the caller could, not as root. Regular files only (a FIFO would block
   * the worker, a directory or a link is not what a create opens), and the
   * caller's access checked against the mode bits as the kernel would have.
   */
  private openExisting(pfd: number, name: Uint8Array, callerFlags: number, flags: number, req: Request): number {
    const { sys, st2 } = this;
    const h = sys.openat2(pfd, name, O.PATH | O.NOFOLLOW | O.CLOEXEC, 0, RESOLVE_CONFINED);
    if (h < 0) return h;
    try {
      const r = sys.fstatat(h, EMPTY, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, st2);
      if (r < 0) return r;
      if ((st2[St.mode] & S_IFMT) !== S_IFREG) return -E.EXIST;
      if (req.uid !== 0) {
        const acc = callerFlags & O.ACCMODE;
        const want = (acc !== O.WRONLY ? 4 : 0) | (acc !== O.RDONLY || (callerFlags & O.TRUNC) ? 2 : 0);
        const m = st2[St.mode];
        const bits = req.uid === st2[St.uid] ? (m >> 6) & 7 : this.inGroup(req, st2[St.gid]) ? (m >> 3) & 7 : m & 7;
        if ((bits & want) !== want) return -E.ACCES;
      }
      return sys.reopen(h, flags | O.CLOEXEC);
    } finally {
      sys.close(h);
    }
  }

  /**
   * Clear what a write or truncation by this caller clears natively, as the
   * kernel's setattr_should_drop_suidgid decides it: suid always; sgid when
   * the file is group-executable or the caller is not in the file's group;
   * and security.capability. Needed because the daemon agrees to
   * FUSE_HANDLE_KILLPRIV_V2 (see fuse/init.ts).
   */
  private killPrivs(fd: number, req: Request): void {
    const { sys, st2 } = this;
    if (sys.fstatat(fd, EMPTY, AT_EMPTY_PATH, st2) < 0) return;
    const mode = st2[St.mode] & 0o7777;
    let keep = mode & ~S_ISUID;
    if ((mode & S_ISGID) && ((mode & S_IXGRP) || !this.inGroup(req, st2[St.gid]))) keep &= ~S_ISGID;
    if (keep !== mode) sys.fchmodat(AT_FDCWD, this.proc(fd), keep);
    sys.removexattr(this.proc(fd), XATTR_CAPS, true);
  }

  /** Would a write by this caller (not root, so without CAP_FSETID) have to clear something? */
  private hasPrivs(fd: number, mode: number, gid: number, req: Request): boolean {
    if (mode & S_ISUID) return true;
    if ((mode & S_ISGID) && ((mode & S_IXGRP) || !this.inGroup(req, gid))) return true;
    return this.sys.getxattr(this.proc(fd), XATTR_CAPS, this.small, 0, 0, true) >= 0;
  }

  /** Is the caller in group `gid`? Its supplementary groups come from /proc (only on this rare path). */
  private inGroup(req: Request, gid: number): boolean {
    if (req.gid === gid) return true;
    try {
      const status = readFileSync(`/proc/${req.pid}/status`, 'utf8');
      const line = /^Groups:\s*(.*)$/m.exec(status)?.[1] ?? '';
      return line.split(/\s+/).includes(String(gid));
    } catch {
      return false; // the caller is gone: assume the stricter answer
    }
  }

  // ---- policy ----------------------------------------------------------------------
  /** The lower path of a handle, relative to LOWER ("" for the root), however deep (lowerpath.ts). */
  private relPath(fd: number): string {
    return this.lowerPaths.relative(fd);
  }

  /** The first `n` bytes of the file behind an O_PATH handle (for content rules). */
  private firstBytes(fd: number, n: number): Uint8Array | undefined {
    const f = this.sys.reopen(fd, O.RDONLY | O.CLOEXEC);
    if (f < 0) return undefined;
    const buf = new Uint8Array(n);
    const got = this.sys.pread(f, buf, 0, n, 0);
    this.sys.close(f);
    return got < 0 ? undefined : buf.subarray(0, got);
  }

  /**
   * The policy's decision for an open (fd: the file's handle) or a create
   * (fd: the parent's handle, name: the new entry); null without a policy.
   * Counts the rule's hit and writes the audit line.
   */
  private decide(req: Request, flags: number, s: number, fd: number, name?: Uint8Array): Decision | null {
    const pol = this.policy;
    if (!pol) return null;
    // Every 16th decision is timed (status: µs per decision): timing each would cost more than some decisions.
    const timed = (++this.decisions & 15) === 0;
    const t0 = timed ? performance.now() : 0;
    const created = name !== undefined;
    this.decidingFd = fd;
    // One context object, refilled per decision (this runs at every open).
    const ctx = this.ctx;
    // As much of the path as the rules read (PolicyNeeds.path); the audit line wants all of it.
    const need = this.audit ? 'full' : pol.needs.path;
    // A create names its new entry: decoded once, and only if the path is read.
    const leaf = name && need !== 'none' ? UTF8.decode(name) : '';
    let path = '';
    ctx.view = undefined;
    if (need === 'full') {
      path = this.paths.pathOf(s, this.relPathOfDeciding);
      if (name) path = path ? `${path}/${leaf}` : leaf;
    } else if (need === 'view') {
      const v = this.view;
      if (!this.paths.viewOf(s, v)) Object.assign(v, viewOfPath(this.paths.pathFromKernel(s, this.relPathOfDeciding)));
      if (name) {
        v.name = leaf;
        if (v.depth++ === 0) v.top = leaf;
      }
      ctx.view = v;
    }
    ctx.path = path;
    ctx.uid = req.uid;
    ctx.gid = req.gid;
    ctx.pid = req.pid;
    accessFromFlags(flags, created, ctx.access);
    ctx.lazy = created ? this.lazyCreate : this.lazyOpen;
    const d = pol.decide(ctx);
    const hit = d.ruleIndex >= 0 && d.ruleIndex < MAX_RULES ? d.ruleIndex : MAX_RULES;
    this.stats[C.RULE_BASE + hit]++;
    this.stats[C.policyDecisions]++;
    if (timed) this.stats[C.policyMicros] += (performance.now() - t0) * 16000;
    const pid = req.pid;
    this.audit?.write({
      event: 'open', pid, uid: req.uid, gid: req.gid, comm: this.processOf(pid).comm ?? null, path,
      flags, create: created, decision: d.action, audited: d.audit, rule: d.rule, reason: d.reason,
    });
    return d;
  }

  // The state of the decision in progress, for the lazy sources below (bound once, not per open).
  private decidingFd = -1;
  private decisions = 0;
  private readonly ctx: OpenContext = {
    path: '', type: 'file', uid: 0, gid: 0, pid: 0, size: 0,
    access: { read: false, write: false, create: false, truncate: false },
    // Present from the start: fields added later would change the object's shape at the first decision.
    view: undefined, lazy: undefined,
  };
  private readonly view: PathView = { name: '', top: '', depth: 0 };
  private readonly relPathOfDeciding = (): string => this.relPath(this.decidingFd);
  private readonly lazyCreate: NonNullable<OpenContext['lazy']> = { process: () => this.processOf(this.ctx.pid) };
  private readonly lazyOpen: NonNullable<OpenContext['lazy']> = {
    process: () => this.processOf(this.ctx.pid),
    size: () => (this.sys.fstatat(this.decidingFd, EMPTY, AT_EMPTY_PATH, this.st2) === 0 ? this.st2[St.size] : 0),
    content: (n) => this.firstBytes(this.decidingFd, n),
  };

  /**
   * The caller's name and executable, cached per pid for a second: a process
   * opening many files pays for the /proc reads once, not per open. The last
   * caller is kept apart: opens come in runs from one process, and the map
   * is more memory to touch (what a decision costs here, see paths.ts).
   */
  private processOf(pid: number): { comm?: string; exe?: string } {
    const now = Date.now();
    if (pid === this.lastPid && now - this.lastAt < 1000) return this.lastInfo;
    let hit = this.procCache.get(pid);
    if (!hit || now - hit.at >= 1000) {
      if (this.procCache.size > 1024) this.procCache.clear();
      hit = { at: now, info: processInfo(pid) };
      this.procCache.set(pid, hit);
    }
    this.lastPid = pid;
    this.lastAt = hit.at;
    this.lastInfo = hit.info;
    return hit.info;
  }
  private readonly procCache = new Map<number, { at: number; info: { comm?: string; exe?: string } }>();
  private lastPid = -1;
  // A time, so a double from the start: at 0 (a small integer) V8 changed the
  // Mirror's layout at the first decision and dropped the optimized code of
  // every method using it (--trace-deopt: "wrong map" in lookup, getattr,
  // open, release, dispatch... in each worker of a fresh daemon).
  private lastAt = -Infinity;
  private lastInfo: { comm?: string; exe?: string } = {};

  /** One audit line for a read or write of an audited file. */
  private auditIo(req: Request, event: 'read' | 'write', fd: number, res: number): void {
    let path: string | null = null;
    try {
      path = this.relPath(fd);
    } catch { /* the fd is gone */ }
    this.audit?.write({ event, pid: req.pid, uid: req.uid, gid: req.gid, path, offset: req.u64(8), size: req.u32(16), result: res });
  }

  // ---- entries ----------------------------------------------------------------------
  private lookup(req: Request, rep: Reply): number {
    const p = this.slot(req.nodeid);
    if (p < 0) return -E.STALE;
    const name = req.name(0);
    const bad = this.nameError(name, -E.NOENT);
    if (bad) return bad;
    const r = this.enter(this.table.fd(p), name, rep, 0, p);
    return r < 0 ? r : ENTRY_OUT;
  }

  private forgetOne(nodeid: number, n: number): void {
    const s = this.slot(nodeid);
    if (s < 0) return;
    const { table } = this;
    table.lock();
    const fd = table.forget(s, n);
    table.unlock();
    if (fd >= 0) this.sys.close(fd);
  }

  private forget(req: Request): number {
    this.forgetOne(req.nodeid, req.u64(0));
    return NO_REPLY;
  }

  private batchForget(req: Request): number {
    const count = req.u32(0);
    for (let i = 0, off = 8; i < count && IN_HEADER + off + 16 <= req.len; i++, off += 16) {
      this.forgetOne(req.u64(off), req.u64(off + 8));
    }
    return NO_REPLY;
  }

  private getattr(req: Request, rep: Reply): number {
    const s = this.slot(req.nodeid);
    if (s < 0) return -E.STALE;
    const r = this.stat(this.table.fd(s));
    if (r < 0) return r;
    rep.attrOut(0, this.st, this.opt.validMs);
    return ATTR_OUT;
  }

  private setattr(req: Request, rep: Reply): number {
    const s = this.slot(req.nodeid);
    if (s < 0) return -E.STALE;
    const { sys } = this;
    const fd = this.table.fd(s);
    const valid = req.u32(0);
    const fh = valid & FATTR_FH ? req.u64(8) % TWO32 : -1;
    let r = 0;
    if (valid & FATTR_MODE) {
      r = fh >= 0 ? sys.fchmod(fh, req.u32(68)) : sys.fchmodat(AT_FDCWD, this.proc(fd), req.u32(68) & 0o7777);
      if (r < 0) return r;
    }
    if (valid & (FATTR_UID | FATTR_GID)) {
      const uid = valid & FATTR_UID ? req.u32(76) : -1;
      const gid = valid & FATTR_GID ? req.u32(80) : -1;
      r = sys.fchownat(fd, EMPTY, uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
      if (r < 0) return r;
    }
    if (valid & FATTR_SIZE) {
      if (valid & FATTR_KILL_SUIDGID) this.killPrivs(fd, req);
      const size = req.offset(16);
      if (size < 0) return -E.FBIG;
      r = fh >= 0 ? sys.ftruncate(fh, size) : sys.truncate(this.proc(fd), size);
      if (r < 0) return r;
    }
    if (valid & (FATTR_ATIME | FATTR_MTIME)) {
      const aNs = valid & FATTR_ATIME ? (valid & FATTR_ATIME_NOW ? UTIME_NOW : req.u32(56)) : UTIME_OMIT;
      const mNs = valid & FATTR_MTIME ? (valid & FATTR_MTIME_NOW ? UTIME_NOW : req.u32(60)) : UTIME_OMIT;
      r = sys.utimensat(fd, EMPTY, req.i64(32), aNs, req.i64(40), mNs, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
      if (r < 0) return r;
    }
    r = this.stat(fd);
    if (r < 0) return r;
    rep.attrOut(0, this.st, this.opt.validMs);
    return ATTR_OUT;
  }

  private readlink(req: Request, rep: Reply): number {
    const s = this.slot(req.nodeid);
    if (s < 0) return -E.STALE;
    return this.sys.readlinkat(this.table.fd(s), EMPTY, rep.buf, rep.at(0), Math.min(4096, rep.room));
  }

  /** The common tail of the node-creating requests: hand the node to the caller, then look it up. */
  private created(pfd: number, name: Uint8Array, req: Request, rep: Reply, mode: number, r: number): number {
    if (r < 0) return r;
    this.chownMade(pfd, name, req, mode);
    const e = this.enter(pfd, name, rep, 0, req.nodeid - 1);
    return e < 0 ? e : ENTRY_OUT;
  }

  private parentOf(req: Request, nameOff: number): [number, Uint8Array] | number {
    const p = this.slot(req.nodeid);
    if (p < 0) return -E.STALE;
    const name = req.name(nameOff);
    const bad = this.nameError(name, -E.INVAL);
    if (bad) return bad;
    return [this.table.fd(p), name];
  }

  private mknod(req: Request, rep: Reply): number {
    const pn = this.parentOf(req, 16);
    if (typeof pn === 'number') return pn;
    const mode = req.u32(0);
    return this.created(pn[0], pn[1], req, rep, mode, this.sys.mknodat(pn[0], pn[1], mode, decodeDev(req.u32(4))));
  }

  private mkdir(req: Request, rep: Reply): number {
    const pn = this.parentOf(req, 8);
    if (typeof pn === 'number') return pn;
    const mode = req.u32(0) | S_IFDIR;
    return this.created(pn[0], pn[1], req, rep, mode, this.sys.mkdirat(pn[0], pn[1], mode & 0o7777));
  }

  private symlink(req: Request, rep: Reply): number {
    const pn = this.parentOf(req, 0);
    if (typeof pn === 'number') return pn;
    const target = req.name(req.after(0));
    return this.created(pn[0], pn[1], req, rep, S_IFLNK, this.sys.symlinkat(target, pn[0], pn[1]));
  }

  private link(req: Request, rep: Reply): number {
    const pn = this.parentOf(req, 8);
    if (typeof pn === 'number') return pn;
    const old = this.slot(req.u64(0));
    if (old < 0) return -E.STALE;
    const r = this.sys.linkat(this.table.fd(old), EMPTY, pn[0], pn[1], AT_EMPTY_PATH);
    if (r < 0) return r;
    const e = this.enter(pn[0], pn[1], rep, 0, req.nodeid - 1);
    return e < 0 ? e : ENTRY_OUT;
  }

  private unlink(req: Request): number {
    const pn = this.parentOf(req, 0);
    if (typeof pn === 'number') return pn;
    return this.sys.unlinkat(pn[0], pn[1], 0);
  }

  private rmdir(req: Request): number {
    const pn = this.parentOf(req, 0);
    if (typeof pn === 'number') return pn;
    return this.sys.unlinkat(pn[0], pn[1], AT_REMOVEDIR);
  }

  private renameCommon(req: Request, nameOff: number, flags: number): number {
    const pn = this.parentOf(req, nameOff);
    if (typeof pn === 'number') return pn;
    const np = this.slot(req.u64(0));
    if (np < 0) return -E.STALE;
    const newName = req.name(req.after(nameOff));
    const bad = this.nameError(newName, -E.INVAL);
    if (bad) return bad;
    const r = this.sys.renameat2(pn[0], pn[1], this.table.fd(np), newName, flags);
    if (r === 0 && this.policy) {
      // The policy's remembered paths follow the move (paths.ts).
      const op = req.nodeid - 1;
      const sides = [{ parent: np, name: newName, fromParent: op, fromName: pn[1] }];
      if (flags & RENAME_EXCHANGE) sides.push({ parent: op, name: pn[1], fromParent: np, fromName: newName });
      this.paths.renamed(sides, (i) => this.slotAt(this.table.fd(sides[i].parent), sides[i].name));
    }
    return r;
  }

  private rename(req: Request): number {
    return this.renameCommon(req, 8, 0);
  }

  private rename2(req: Request): number {
    return this.renameCommon(req, 16, req.u32(8));
  }

  // ---- open files -------------------------------------------------------------------------
  /**
   * Decide the I/O mode of one open and account for it. The kernel allows one
   * mode per inode, so an inode that is already open keeps its mode: a later
   * opener joins it. Returns [fh, open_flags, backing_id] or -errno.
   */
  private openNode(
    s: number, req: Request, flags: number, openFlags: number, d: Decision | null, preFd = -1, preFdIsBacking = false,
  ): [number, number, number] | number {
    const { sys, table, stats } = this;
    const ifd = table.fd(s);
    const writing = (flags & O.ACCMODE) !== O.RDONLY;
    const mustMediate = d?.action === 'mediated';
    let want = this.wantsPassthrough(d) ? IoMode.Passthrough : IoMode.Mediated;
    // The write trap: with KILLPRIV_V2 a passthrough write by this opener
    // would not clear suid/sgid/capabilities. Serve such writers ourselves.
    const privileged = writing && req.uid !== 0 && this.stat(ifd) === 0 && this.hasPrivs(ifd, this.st[St.mode], this.st[St.gid], req);
    if (privileged && want === IoMode.Passthrough) {
      want = IoMode.Mediated;
      stats[C.privMediated]++;
    }
    let mode: IoMode;
    let backingId = 0;
    let fallbackErr = 0;
    table.lock();
    try {
      const existing = table.ioMode(s);
      if (existing === IoMode.Passthrough && mustMediate) {
        // The kernel cannot mix modes on one inode, and joining passthrough
        // would escape the rule (and its audit): refuse this open instead.
        stats[C.modeConflicts]++;
        if (preFd >= 0) sys.close(preFd);
        return -E.BUSY;
      }
      mode = existing !== IoMode.None ? existing : want;
      if (existing !== IoMode.None && existing !== want) stats[C.modeJoined]++;
      if (mode === IoMode.Passthrough && existing === IoMode.None) {
        // First open: register one backing file for the inode. Read-write when
        // the lower fs allows, so later writers can share it.
        let bfd = preFd >= 0 && preFdIsBacking ? preFd : sys.reopen(ifd, O.RDWR | O.CLOEXEC);
        if (bfd < 0 && !writing) bfd = sys.reopen(ifd, O.RDONLY | O.CLOEXEC);
        const id = bfd < 0 ? bfd : sys.backingOpen(this.devFd, bfd);
        if (id > 0) {
          stats[C.backingOpened]++;
          table.addOpen(s, IoMode.Passthrough, id, bfd, req.pid, req.uid);
          backingId = id;
          preFd = -1;
        } else {
          if (bfd >= 0 && bfd !== preFd) sys.close(bfd);
          fallbackErr = -id;
          mode = IoMode.Mediated;
          table.addOpen(s, IoMode.Mediated, -1, -1, req.pid, req.uid);
        }
      } else if (mode === IoMode.Passthrough) {
        table.addOpen(s, IoMode.Passthrough, -1, -1, req.pid, req.uid);
        backingId = table.backingId(s);
      } else {
        table.addOpen(s, IoMode.Mediated, -1, -1, req.pid, req.uid);
      }
    } finally {
      table.unlock();
    }
    if (fallbackErr) {
      stats[C.openFallback]++;
      stats[C.FALLBACK_BASE + (fallbackErr < 160 ? fallbackErr : 0)]++;
      this.opt.log(`passthrough refused for node ${s + 1} (${sys.errnoName(fallbackErr)}): serving it mediated`);
    }
    if (mode === IoMode.Passthrough) {
      if (preFd >= 0) sys.close(preFd);
      // A privileged file that must join an inode already in passthrough:
      // clear now what this writer's writes would clear (see README).
      if (privileged) this.killPrivs(ifd, req);
      const bfd = table.backingFd(s);
      if (flags & O.TRUNC) {
        if (openFlags & FUSE_OPEN_KILL_SUIDGID) this.killPrivs(ifd, req);
        const r = sys.ftruncate(bfd, 0);
        if (r < 0) { this.releaseNode(s, FH_PASSTHROUGH + bfd); return r; }
      }
      stats[C.openPassthrough]++;
      return [FH_PASSTHROUGH + bfd, FOPEN_PASSTHROUGH, backingId];
    }
    if ((flags & O.TRUNC) && (openFlags & FUSE_OPEN_KILL_SUIDGID)) this.killPrivs(ifd, req);
    if (preFd >= 0 && preFdIsBacking) { sys.close(preFd); preFd = -1; }
    const fd = preFd >= 0 ? preFd : sys.reopen(ifd, (flags & ~MEDIATED_DROP) | O.CLOEXEC);
    if (fd < 0) { this.releaseNode(s, -1); return fd; }
    stats[C.openMediated]++;
    return [fd + (d?.audit ? FH_AUDIT : 0), 0, 0];
  }

  /** Does this open get kernel passthrough, if the inode allows? The rule decides; without a policy, --io. */
  private wantsPassthrough(d: Decision | null): boolean {
    return this.opt.passthrough && (d ? d.action === 'passthrough' : this.opt.io === 'passthrough');
  }

  /** Before any open or create: a broken audit log with --audit-failure deny refuses everything. */
  private refused(): number {
    if (!this.audit?.refusing) return 0;
    this.stats[C.auditDenied]++;
    return -E.ACCES;
  }

  /** Count a denial by the policy; the errno is the rule's. */
  private denied(d: Decision): number {
    this.stats[C.openDenied]++;
    return -d.errno;
  }

  /** Undo one open's accounting; close what the last one leaves behind. */
  private releaseNode(s: number, fh: number): void {
    const { sys, table } = this;
    table.lock();
    const last = table.dropOpen(s);
    table.unlock();
    if (fh >= 0 && !(fhFlags(fh) & 1)) sys.close(fh % TWO32);
    if (last) {
      if (last[0] > 0) {
        sys.backingClose(this.devFd, last[0]);
        this.stats[C.backingClosed]++;
      }
      if (last[1] >= 0) sys.close(last[1]);
    }
  }

  private writeOpenOut(rep: Reply, off: number, o: [number, number, number]): void {
    rep.u64(off, o[0]);
    rep.u32(off + 8, o[1]);
    rep.i32(off + 12, o[2]);
  }

  private open(req: Request, rep: Reply): number {
    const s = this.slot(req.nodeid);
    if (s < 0) return -E.STALE;
    if ((this.table.type(s) & S_IFMT) !== S_IFREG) return -E.INVAL;
    const stop = this.refused();
    if (stop) return stop;
    const d = this.decide(req, req.u32(0), s, this.table.fd(s));
    if (d?.action === 'deny') return this.denied(d);
    const o = this.openNode(s, req, req.u32(0), req.u32(4), d);
    if (typeof o === 'number') return o;
    this.writeOpenOut(rep, 0, o);
    return OPEN_OUT;
  }

  private create(req: Request, rep: Reply): number {
    const pn = this.parentOf(req, 16);
    if (typeof pn === 'number') return pn;
    const [pfd, name] = pn;
    const { sys } = this;
    const flags = req.u32(0);
    const mode = req.u32(4) & 0o7777;
    const stop = this.refused();
    if (stop) return stop;
    // Decided before anything exists: a denied create leaves nothing behind.
    const d = this.decide(req, flags, req.nodeid - 1, pfd, name);
    if (d?.action === 'deny') return this.denied(d);
    const passthrough = this.wantsPassthrough(d);
    // A passthrough backing file is opened read-write (see openNode); a
    // mediated one keeps the caller's access mode and flags.
    const base = (passthrough ? (flags & ~(O.ACCMODE | O.APPEND)) | O.RDWR : flags) & ~MEDIATED_DROP;
    let created = true;
    let fd = sys.openat2(pfd, name, base | O.CREAT | O.EXCL | O.CLOEXEC, mode, RESOLVE_CONFINED);
    if (fd === -E.EXIST && !(flags & O.EXCL)) {
      created = false;
      fd = this.openExisting(pfd, name, flags, base, req);
    }
    if (fd < 0) return fd;
    if (created) this.chownNew(pfd, fd, req, S_IFREG | mode);
    const e = this.enter(pfd, name, rep, 0, req.nodeid - 1, fd);
    if (e < 0) {
      // Undo the create, if the name still holds the file it made.
      const { st, st2 } = this;
      if (created && sys.fstatat(fd, EMPTY, AT_EMPTY_PATH, st) === 0 && sys.fstatat(pfd, name, AT_SYMLINK_NOFOLLOW, st2) === 0 &&
          st[St.ino] === st2[St.ino] && st[St.dev] === st2[St.dev]) sys.unlinkat(pfd, name, 0);
      sys.close(fd);
      return e;
    }
    const s = rep.dv.getUint32(rep.at(0), true) - 1;
    const o = this.openNode(s, req, flags & ~O.TRUNC, 0, d, fd, passthrough);
    if (typeof o === 'number') return o;
    this.writeOpenOut(rep, ENTRY_OUT, o);
    return ENTRY_OUT + OPEN_OUT;
  }

  private read(req: Request, _rep: Reply, x: Exchange): number {
    const fh = req.u64(0);
    const off = req.offset(8);
    if (off < 0) return -E.OVERFLOW;
    if (fhFlags(fh) & 2) this.auditIo(req, 'read', fh % TWO32, req.u32(16));
    return this.viaEngine(x, this.engine.read(x, fh % TWO32, req.u32(16), off));
  }

  private write(req: Request, _rep: Reply, x: Exchange): number {
    const fh = req.u64(0);
    const fd = fh % TWO32;
    const off = req.offset(8);
    if (off < 0) return -E.FBIG;
    if (fhFlags(fh) & 2) this.auditIo(req, 'write', fd, req.u32(16));
    if (req.u32(20) & FUSE_WRITE_KILL_SUIDGID) this.killPrivs(fd, req);
    return this.viaEngine(x, this.engine.write(x, fd, req.u32(16), off));
  }

  /** Engines return a finished reply length or PENDING; dispatch wants a body length or a marker. */
  private viaEngine(x: Exchange, len: number): number {
    if (len === PENDING) return PENDING_BODY;
    this.finished = len;
    return FINISHED;
  }
  private finished = 0;

  /**
   * The reply of a mediated I/O request once its result is known, for both
   * engines: returns the total reply length.
   */
  readonly complete: Complete = (x: Exchange, kind: IoKind, res: number): number => {
    const { req, rep } = x;
    if (res < 0) {
      this.stats[C.errors]++;
      return rep.finish(req, 0, -res);
    }
    switch (kind) {
      case IoKind.Read:
        this.stats[C.bytesRead] += res;
        return rep.finish(req, res);
      case IoKind.Write:
        this.stats[C.bytesWritten] += res;
        rep.u32(0, res);
        rep.u32(4, 0);
        return rep.finish(req, 8);
      default:
        return rep.finish(req, 0);
    }
  };

  private flush(): number {
    // Writes are already on the lower fs when acknowledged: nothing to flush.
    return 0;
  }

  private release(req: Request): number {
    const s = this.slot(req.nodeid);
    if (s >= 0) this.releaseNode(s, req.u64(0));
    return 0;
  }

  private fsync(req: Request, _rep: Reply, x: Exchange): number {
    return this.viaEngine(x, this.engine.fsync(x, req.u64(0) % TWO32, (req.u32(8) & FUSE_FSYNC_FDATASYNC) !== 0));
  }

  private fsyncdir(req: Request): number {
    return this.sys.fsync(req.u64(0) % TWO32, (req.u32(8) & FUSE_FSYNC_FDATASYNC) !== 0);
  }

  private fallocate(req: Request, _rep: Reply, x: Exchange): number {
    const off = req.offset(8);
    const len = req.offset(16);
    if (off < 0 || len < 0) return -E.FBIG;
    const fd = req.u64(0) % TWO32;
    // Natively a change of the file clears suid/sgid unless the caller has
    // CAP_FSETID; with KILLPRIV_V2 that is the daemon's duty (fuse/init.ts).
    if (req.uid !== 0) this.killPrivs(fd, req);
    return this.viaEngine(x, this.engine.fallocate(x, fd, req.u32(24), off, len));
  }

  private lseek(req: Request, rep: Reply): number {
    const off = req.offset(8);
    if (off < 0) return -E.OVERFLOW;
    const r = this.sys.lseek(req.u64(0) % TWO32, off, req.u32(16));
    if (r < 0) return r;
    rep.u64(0, r);
    return 8;
  }

  private copyFileRange(req: Request, rep: Reply): number {
    const inOff = req.offset(8);
    const outOff = req.offset(32);
    if (inOff < 0 || outOff < 0) return -E.FBIG;
    if (req.uid !== 0) this.killPrivs(req.u64(24) % TWO32, req); // as for fallocate
    // A shorter copy is allowed; the kernel copies at most MAX_RW_COUNT per call anyway.
    const n = this.sys.copyFileRange(req.u64(0) % TWO32, inOff, req.u64(24) % TWO32, outOff, Math.min(req.u64(40), MAX_RW_COUNT), 0);
    if (n < 0) return n;
    if (req.opcode === Op.COPY_FILE_RANGE_64) {
      rep.u64(0, n);
      return 8;
    }
    rep.u32(0, n);
    rep.u32(4, 0);
    return 8;
  }

  // ---- directories ------------------------------------------------------------------------
  private opendir(req: Request, rep: Reply): number {
    const s = this.slot(req.nodeid);
    if (s < 0) return -E.STALE;
    const fd = this.sys.reopen(this.table.fd(s), O.RDONLY | O.DIRECTORY | O.CLOEXEC);
    if (fd < 0) return fd;
    this.writeOpenOut(rep, 0, [fd, 0, 0]);
    return OPEN_OUT;
  }

  private releasedir(req: Request): number {
    this.sys.close(req.u64(0) % TWO32);
    return 0;
  }

  private readdir(req: Request, rep: Reply): number {
    return this.listDir(req, rep, false);
  }

  private readdirplus(req: Request, rep: Reply): number {
    return this.listDir(req, rep, true);
  }

  /**
   * READDIR and READDIRPLUS. Offsets are the lower fs's own d_off cookies,
   * copied byte for byte (ext4's are 64-bit hashes a double cannot hold).
   * An entry is looked up (and counted) only once it is sure to fit.
   */
  private listDir(req: Request, rep: Reply, plus: boolean): number {
    const { sys, dents, dentsView: dv } = this;
    const fd = req.u64(0) % TWO32;
    const size = Math.min(req.u32(16), rep.room);
    const r = sys.lseek(fd, req.big64(8), SEEK_SET);
    if (r < 0) return r;
    // fuse_dirent is larger than linux_dirent64; direntplus much larger.
    const want = Math.min(dents.length, plus ? Math.max(512, size >> 2) : size);
    const n = sys.getdents64(fd, dents, 0, want);
    if (n < 0) return n;
    const s = plus ? this.slot(req.nodeid) : -1;
    const pfd = s >= 0 ? this.table.fd(s) : -1;
    const out = rep.buf;
    const odv = rep.dv;
    let used = 0;
    for (let p = 0; p < n;) {
      const reclen = dv.getUint16(p + 16, true);
      const type = dents[p + 18];
      let end = dents.indexOf(0, p + 19);
      if (end < 0 || end > p + reclen) end = p + reclen;
      const nameLen = end - (p + 19);
      const base = plus ? DIRENTPLUS_BASE : DIRENT_BASE;
      const rec = (base + nameLen + 7) & ~7;
      if (used + rec > size) break;
      const name = dents.subarray(p + 19, end);
      let o = rep.at(used);
      if (plus) {
        const dot = name[0] === DOT && (nameLen === 1 || (nameLen === 2 && name[1] === DOT));
        if (dot || this.enter(pfd, name, rep, used, req.nodeid - 1) < 0) {
          // The kernel skips entries with node id 0; "." and ".." are always such.
          rep.zero(used, ENTRY_OUT);
        }
        o += ENTRY_OUT;
      }
      // fuse_dirent: ino, off (the cookie, copied raw), namelen, type, name
      out.set(dents.subarray(p, p + 16), o);
      odv.setUint32(o + 16, nameLen, true);
      odv.setUint32(o + 20, type, true);
      out.set(name, o + 24);
      out.fill(0, o + 24 + nameLen, rep.at(used + rec));
      used += rec;
      p += reclen;
    }
    return used;
  }

  private statfs(req: Request, rep: Reply): number {
    const s = this.slot(req.nodeid);
    const r = this.sys.fstatfs(this.table.fd(s >= 0 ? s : ROOT_ID - 1), this.sfs);
    if (r < 0) return r;
    const f = this.sfs;
    rep.u64(0, f[Sfs.blocks]);
    rep.u64(8, f[Sfs.bfree]);
    rep.u64(16, f[Sfs.bavail]);
    rep.u64(24, f[Sfs.files]);
    rep.u64(32, f[Sfs.ffree]);
    rep.u32(40, f[Sfs.bsize]);
    rep.u32(44, f[Sfs.namelen]);
    rep.u32(48, f[Sfs.frsize]);
    rep.zero(52, STATFS_OUT - 52);
    return STATFS_OUT;
  }

  // ---- xattrs -------------------------------------------------------------------------------
  private xattrPath(req: Request): string | null {
    const s = this.slot(req.nodeid);
    return s < 0 ? null : this.proc(this.table.fd(s));
  }

  private getxattr(req: Request, rep: Reply): number {
    const path = this.xattrPath(req);
    if (path === null) return -E.STALE;
    const size = req.u32(0);
    const name = req.name(8);
    if (size === 0) {
      const n = this.sys.getxattr(path, name, rep.buf, rep.at(0), 0, true);
      if (n < 0) return n;
      rep.u32(0, n);
      rep.u32(4, 0);
      return 8;
    }
    return this.sys.getxattr(path, name, rep.buf, rep.at(0), Math.min(size, rep.room), true);
  }

  private listxattr(req: Request, rep: Reply): number {
    const path = this.xattrPath(req);
    if (path === null) return -E.STALE;
    const size = req.u32(0);
    if (size === 0) {
      const n = this.sys.listxattr(path, rep.buf, rep.at(0), 0, true);
      if (n < 0) return n;
      rep.u32(0, n);
      rep.u32(4, 0);
      return 8;
    }
    return this.sys.listxattr(path, rep.buf, rep.at(0), Math.min(size, rep.room), true);
  }

  private setxattr(req: Request): number {
    const path = this.xattrPath(req);
    if (path === null) return -E.STALE;
    const size = req.u32(0);
    const flags = req.u32(4);
    const valueOff = req.after(8);
    if (IN_HEADER + valueOff + size > req.len) return -E.INVAL;
    return this.sys.setxattr(path, req.name(8), req.buf, req.at(valueOff), size, flags, true);
  }

  private removexattr(req: Request): number {
    const path = this.xattrPath(req);
    if (path === null) return -E.STALE;
    return this.sys.removexattr(path, req.name(0), true);
  }

  // ---- session ------------------------------------------------------------------------------
  private interrupt(): number {
    // Every request is served synchronously, so there is never one to interrupt.
    return NO_REPLY;
  }

  private destroy(): number {
    return 0;
  }
}

