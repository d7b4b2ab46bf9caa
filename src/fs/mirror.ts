// The mirror file system: the operations, one per FUSE request a mirror
// serves, on the lower directory through O_PATH handles and *at calls. What
// an open decides and holds is opens.ts; the policy and the audit trail,
// decisions.ts; the kernel's privilege rules the daemon applies for its
// callers, privileges.ts; the inode table, inodes.ts.
//
// Confinement: the daemon never resolves a path with more than one component
// and never follows a link. Names come from the kernel one component at a
// time and are resolved relative to the parent's O_PATH handle with
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS (or with
// AT_SYMLINK_NOFOLLOW for the calls openat2 does not cover). Symlinks are
// handed back to the kernel as text, which follows them in the caller's own
// view, exactly as it would natively. "/proc/self/fd/N" is only ever used on
// the daemon's own handles, which already point inside LOWER.
//
// Each operation returns the length of its reply body (>= 0), a negative
// errno, or PENDING (the mediated engine will send the reply); dispatch
// finishes the reply, and sends none for the opcodes the table says get
// none (fuse/opcodes.ts).
import { Native, St, Sfs } from '../native/index.js';
import {
  ROOT_ID, IN_HEADER, ENTRY_OUT, ATTR_OUT, DIRENT_BASE, DIRENTPLUS_BASE,
  FATTR_MODE, FATTR_UID, FATTR_GID, FATTR_SIZE, FATTR_ATIME, FATTR_MTIME, FATTR_FH,
  FATTR_ATIME_NOW, FATTR_MTIME_NOW, FATTR_KILL_SUIDGID, FUSE_WRITE_KILL_SUIDGID, FUSE_FSYNC_FDATASYNC,
} from '../fuse/abi.js';
import { Answer, answerOf, Op, OP_SLOTS, opNames, type OpName } from '../fuse/opcodes.js';
import {
  BatchForgetIn, CopyFileRange64Out, CopyFileRangeIn, CreateIn, Dirent, FallocateIn, ForgetIn, ForgetOne, FsyncIn,
  GetxattrIn, LinkIn, LseekIn, LseekOut, MkdirIn, MknodIn, OpenIn, OpenOut, ReadIn, ReleaseIn, Rename2In, RenameIn,
  SetattrIn, SetxattrIn, StatfsOut, WriteIn, WriteOut, XattrSizeOut,
} from '../fuse/structs.js';
import { Request, Reply, decodeDev } from '../fuse/codec.js';
import { Exchange, Handler, PENDING } from '../fuse/exchange.js';
import { C, observeLatency } from '../io/counters.js';
import { IoKind, IoReplies, MediatedEngine } from '../io/mediated.js';
import type { Decision, Policy } from '../policy/index.js';
import {
  E, O, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR, AT_FDCWD, RESOLVE_CONFINED, RENAME_EXCHANGE,
  S_IFMT, S_IFDIR, S_IFREG, S_ISUID, S_ISGID, UTIME_NOW, UTIME_OMIT, SEEK_SET, NAME_MAX, MAX_RW_COUNT, Dirent64, procFd,
  XATTR_CAPS,
} from '../native/linux.js';
import { AuditSink, Decisions } from './decisions.js';
import { InodeTable } from './inodes.js';
import { LowerPaths } from './lowerpath.js';
import { flagNames, notCrossable } from './mountflags.js';
import { fhAudited, fhEntry, fhPassthrough, MEDIATED_DROP, Opened, Opens } from './opens.js';
import { NOT_OPEN, OpenFiles, type OpenFilesMemory } from './openfiles.js';
import { markDirectory } from './watch.js';
import { PathCache, PathMemory } from './paths.js';
import { Privileges, startsWith } from './privileges.js';
import { Creds } from './creds.js';
import { SlotFds } from './slotfds.js';

export interface MirrorOptions {
  /** The mount-wide I/O mode asked for. */
  io: 'passthrough' | 'mediated';
  /** The kernel agreed to FUSE_PASSTHROUGH. */
  passthrough: boolean;
  /** Entry and attribute cache timeout. */
  validMs: number;
  /** Log one line (fallbacks and other noteworthy events). */
  log: (msg: string) => void;
  /** One line per request served (--debug); null: no tracing. */
  trace?: ((msg: string) => void) | null;
  /** Builds the engine that serves mediated reads and writes. */
  engine: (replies: IoReplies) => MediatedEngine;
  /** The lower directory's real path: policy paths are relative to it. */
  lowerRoot: string;
  /** mount(2) flags of the passfs mount: a mount inside LOWER is entered only within them (mountflags.ts). */
  mountFlags: number;
  /** The lower directory's watch group (fs/watch.ts): each directory entered is marked (-1: none). */
  watchFd: number;
  /** Per-file decisions; null: every file follows `io`. */
  policy: Policy | null;
  audit: AuditSink | null;
  /** Shared memory for the policy's remembered paths (null without a policy). */
  paths: PathMemory | null;
  /** The open files holding a descriptor (fs/openfiles.ts): file handles name their entries. */
  files: OpenFilesMemory;
}

/** The operations by opcode: each row of the opcode table the mirror serves, and the method serving it. */
export const HANDLERS = {
  LOOKUP: 'lookup', FORGET: 'forget', BATCH_FORGET: 'batchForget',
  GETATTR: 'getattr', SETATTR: 'setattr', READLINK: 'readlink',
  SYMLINK: 'symlink', MKNOD: 'mknod', MKDIR: 'mkdir',
  UNLINK: 'unlink', RMDIR: 'rmdir', RENAME: 'rename', RENAME2: 'rename2',
  LINK: 'link', OPEN: 'open', CREATE: 'create', TMPFILE: 'tmpfile', READ: 'read',
  WRITE: 'write', FLUSH: 'flush', RELEASE: 'release', FSYNC: 'fsync',
  OPENDIR: 'opendir', READDIR: 'readdir', READDIRPLUS: 'readdirplus',
  RELEASEDIR: 'releasedir', FSYNCDIR: 'fsyncdir', STATFS: 'statfs',
  SETXATTR: 'setxattr', GETXATTR: 'getxattr', LISTXATTR: 'listxattr',
  REMOVEXATTR: 'removexattr', FALLOCATE: 'fallocate', LSEEK: 'lseek',
  COPY_FILE_RANGE: 'copyFileRange', COPY_FILE_RANGE_64: 'copyFileRange',
  INTERRUPT: 'interrupt', DESTROY: 'destroy',
} as const satisfies Partial<Record<OpName, keyof Mirror>>;

const EMPTY = '';
const EMPTY_NAME = new Uint8Array(0);

/**
 * The flags a create opens its new file with: a passthrough backing file
 * read-write (see Opens.open), a mediated one with the caller's access mode
 * and flags; never those the daemon's own file must not have (MEDIATED_DROP).
 */
const createFlags = (flags: number, passthrough: boolean): number =>
  (passthrough ? (flags & ~(O.ACCMODE | O.APPEND)) | O.RDWR : flags) & ~MEDIATED_DROP;
/** The name an O_TMPFILE is decided by in its directory (it has none; the kernel sends "/"). */
const TMPFILE_NAME = new TextEncoder().encode('#tmpfile');
/** Longest cache of a negative entry, and of a policy path record (ms). */
const NEGATIVE_MAX_MS = 1000;
const DOT = 0x2e;
const SLASH = 0x2f;

type Operation = (req: Request, rep: Reply, x: Exchange) => number;

const CAPS_NAME = new TextEncoder().encode(XATTR_CAPS);
const ACL_PREFIX = new TextEncoder().encode('system.posix_acl_');
/** Is this xattr name (bytes) security.capability? */
const isCapsName = (name: Uint8Array) => name.length === CAPS_NAME.length && startsWith(name, 0, name.length, CAPS_NAME);
/** Is this xattr name (bytes) a POSIX ACL (access or default)? */
const isAclName = (name: Uint8Array) => name.length > ACL_PREFIX.length && startsWith(name, 0, name.length, ACL_PREFIX);

export class Mirror implements Handler, IoReplies {
  private readonly st = new Float64Array(St.LENGTH);
  private readonly st2 = new Float64Array(St.LENGTH);
  private readonly sfs = new Float64Array(Sfs.LENGTH);
  private readonly dents = new Uint8Array(256 * 1024);
  private readonly dentsView = new DataView(this.dents.buffer);
  /** The operations table: one entry per opcode, unknown ones get ENOSYS. */
  private readonly ops: (Operation | undefined)[] = new Array(OP_SLOTS);
  readonly engine: MediatedEngine;
  /** Paths of the nodes this worker looked up, for the policy (filled only with one). */
  private readonly paths: PathCache;
  private readonly lowerPaths: LowerPaths;
  private readonly privileges: Privileges;
  private readonly creds: Creds;
  /** The request being served comes from root (who may use the inode table's reserve, inodes.ts). */
  private rootCaller = true;
  /** A file capability's value, kept while a setxattr of one may have to be undone. */
  private readonly capsBuf = new Uint8Array(64);
  private readonly opens: Opens;
  private readonly files: OpenFiles;
  private readonly decisions: Decisions;
  /** The slots' descriptors this worker's request uses (pinned until the request ends). */
  private readonly fds: SlotFds;
  /** Files this request opened for a passthrough open's sake (fileFd): closed once it is served. */
  private readonly temps: number[] = [];
  /** Requests served later (PENDING) not answered yet, and who waits for none to be left. */
  private pending = 0;
  private onIdle: (() => void) | null = null;

  constructor(
    private readonly sys: Native,
    private readonly table: InodeTable,
    private readonly stats: Float64Array,
    devFd: number,
    private readonly opt: MirrorOptions,
  ) {
    const self = this as unknown as Record<string, Operation>;
    for (const [name, method] of Object.entries(HANDLERS)) this.ops[Op[name as OpName]] = self[method].bind(this);
    this.engine = opt.engine(this);
    // The policy's records are trusted for the short timeout at most, whatever the kernel caches (paths.ts).
    this.paths = new PathCache(table, opt.paths, Math.min(opt.validMs, NEGATIVE_MAX_MS));
    this.lowerPaths = new LowerPaths(sys, table.fd(ROOT_ID - 1), opt.lowerRoot); // the root's descriptor is never evicted
    // A directory reopened by handle is marked for the watch again: after a takeover the watch is a new one, which knows none (server/handover.ts).
    this.fds = new SlotFds(sys, table, opt.watchFd < 0 ? undefined : (s, fd) => {
      if ((table.type(s) & S_IFMT) === S_IFDIR && markDirectory(sys, opt.watchFd, fd) < 0) stats[C.watchMarkFailures]++;
    });
    this.privileges = new Privileges(sys, devFd);
    this.creds = new Creds(sys);
    this.files = new OpenFiles(opt.files, table);
    this.opens = new Opens(sys, table, this.fds, stats, devFd, this.privileges, opt, this.files);
    this.decisions = new Decisions(sys, stats, this.paths, this.lowerPaths, table, this.fds, opt.policy, opt.audit, opt.log);
  }

  /** A reloaded policy: new opens follow it, open files keep their mode. */
  setPolicy(p: Policy | null): void {
    this.decisions.setPolicy(p);
  }

  /** Serve one request; returns the reply length to send, 0 for no reply, or PENDING (sent later by the engine). */
  dispatch(x: Exchange): number {
    const { req, rep } = x;
    const op = req.opcode;
    const known = op < OP_SLOTS;
    // Kept on the request: a stable copy made for serving it later (Exchange.stabilize) carries it to the reply.
    const t0 = (req.arrived = performance.now());
    this.stats[known ? op : 0]++;
    const fn = known ? this.ops[op] : undefined;
    this.rootCaller = req.uid === 0;
    let r: number;
    try {
      r = fn ? fn(req, rep, x) : -E.NOSYS;
    } catch (e) {
      this.opt.log(`internal error in ${op}: ${(e as Error).stack ?? e}`);
      r = -E.IO;
    }
    this.fds.done();
    while (this.temps.length) this.sys.close(this.temps.pop()!);
    if (r === PENDING) {
      this.pending++;
      return PENDING;
    }
    if (known && answerOf[op] === Answer.none) {
      this.served(x, op, r, t0, false);
      return 0;
    }
    const len = this.finish(x, r);
    this.served(x, known ? op : 0, r, t0, true);
    return len;
  }

  /** Count (and with --debug, trace) a request served: its latency from `t0`, and its result `r`. */
  private served(x: Exchange, op: number, r: number, t0: number, replied: boolean): void {
    const us = (performance.now() - t0) * 1000;
    if (us >= 0) observeLatency(this.stats, op, us); // (NaN: never)
    if (!this.opt.trace) return;
    const { req } = x;
    const what = !replied ? 'no reply' : r < 0 ? this.sys.errnoName(-r) : `ok, ${r} bytes`;
    this.opt.trace(`${opNames[req.opcode] ?? `opcode ${req.opcode}`} #${req.unique()} node ${req.nodeid} uid ${req.uid} pid ${req.pid}: ${what} (${Math.round(us)} µs)`);
  }

  /** After each request's reply: work the reply need not wait for (see PathCache.rememberAfterReply). */
  afterReply(): void {
    this.paths.flush();
  }

  /** The reply of `x` from an operation's result (body length or -errno): its total length. */
  private finish(x: Exchange, r: number): number {
    if (r < 0) {
      // Expected answers are not errors: a missing name, an opcode we leave to the kernel.
      if (r !== -E.NOENT && r !== -E.NOSYS) this.stats[C.errors]++;
      return x.rep.finish(x.req, 0, -r);
    }
    return x.rep.finish(x.req, r);
  }

  // ---- mediated I/O results (IoReplies, for both engines) ----------------------------
  /** The reply body of a mediated I/O request once its result is known: its length, or -errno. */
  body(x: Exchange, kind: IoKind, res: number): number {
    if (res < 0) return res;
    switch (kind) {
      case IoKind.Read:
        this.stats[C.bytesRead] += res;
        return res;
      case IoKind.Write:
        this.stats[C.bytesWritten] += res;
        x.rep.u32(WriteOut.size, res);
        x.rep.u32(WriteOut.size + 4, 0);
        return WriteOut.SIZE;
      default:
        return 0;
    }
  }

  /** Send the reply of a request whose operation returned PENDING. */
  send(x: Exchange, r: number): void {
    const len = this.finish(x, r);
    this.served(x, x.req.opcode, r, x.req.arrived, true);
    x.owner.send(x, len);
    if (--this.pending === 0 && this.onIdle) {
      const f = this.onIdle;
      this.onIdle = null;
      f();
    }
  }

  /** Resolves once every request served later (PENDING) has been answered: a worker handing over waits for it. */
  idle(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise((r) => (this.onIdle = r));
  }

  /**
   * The descriptor to serve a request on open file `fh` of node `nodeid`
   * with, or -errno: a mediated open's own, or for a passthrough open (which
   * holds none, opens.ts) the node's file opened now for `access`
   * (O_RDONLY or O_WRONLY) and closed once the request is served (see
   * owned: the engine's own requests outlive dispatch).
   */
  private fileFd(fh: number, nodeid: number, access: number): number {
    if (!fhPassthrough(fh)) return this.files.fd(fhEntry(fh));
    const pfd = this.nodeFd(nodeid);
    if (pfd < 0) return pfd;
    const fd = this.sys.reopen(pfd, access | O.CLOEXEC);
    if (fd >= 0) this.temps.push(fd);
    return fd;
  }

  /** Is `fd` the file fileFd just opened? Then it is handed over (to the engine, which closes it when done). */
  private owned(fd: number): boolean {
    const t = this.temps;
    if (t.length === 0 || t[t.length - 1] !== fd) return false;
    t.pop();
    return true;
  }

  // ---- helpers ------------------------------------------------------------------
  /**
   * How long the kernel may cache slot s's attributes: not at all while it
   * is open for writing in passthrough (a write through a shared mapping
   * changes the lower file's times, and the kernel would not know).
   */
  private attrMs(s: number): number {
    return this.table.ptWritable(s) > 0 ? 0 : this.opt.validMs;
  }

  /** The descriptor of a node (pinned for the request, slotfds.ts), or -errno. */
  private nodeFd(nodeid: number): number {
    const s = this.slot(nodeid);
    return s < 0 ? -E.STALE : this.fds.get(s);
  }

  /** The slot of the request's node, or -1 for an id the table does not hold. */
  private slot(nodeid: number): number {
    const s = nodeid - 1;
    return this.table.valid(s) ? s : -1;
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
    // A mount inside LOWER is checked at every entry into it, before the
    // node is looked for: the same inode may be known by a path the check
    // allowed (another mount of the same file system).
    if (st[St.mountRoot] && opened < 0) {
      const h = sys.openat2(pfd, name, O.PATH | O.NOFOLLOW | O.CLOEXEC, 0, RESOLVE_CONFINED);
      if (h < 0) return h;
      const refused = this.notCrossing(h);
      sys.close(h);
      if (refused) return -E.ACCES;
    }
    table.lock();
    let s = table.findBorn(st[St.dev], st[St.ino], st[St.btime], st[St.btimeNs]);
    if (s >= 0) table.addLookup(s);
    table.unlock();
    if (s < 0) {
      // The daemon's last descriptors are root's (inodes.ts).
      if (!this.fds.room(this.rootCaller)) return -E.NFILE;
      const fd = opened >= 0 ? sys.reopen(opened, O.PATH | O.CLOEXEC) : sys.openat2(pfd, name, O.PATH | O.NOFOLLOW | O.CLOEXEC, 0, RESOLVE_CONFINED);
      if (fd < 0) return fd;
      r = sys.fstatat(fd, EMPTY, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, st);
      if (r === 0 && st[St.mountRoot] && this.notCrossing(fd)) r = -E.ACCES;
      if (r < 0) { sys.close(fd); return r; }
      const type = st[St.mode] & S_IFMT;
      // Its file handle, to reopen it by when the cache has closed it (slotfds.ts).
      const handle = this.fds.describe(fd, type === S_IFDIR, st[St.mountRoot] !== 0, pfd);
      table.lock();
      s = table.findBorn(st[St.dev], st[St.ino], st[St.btime], st[St.btimeNs]);
      if (s >= 0) table.addLookup(s);
      // The birth time tells this inode from a later one with its number; without one, the change time (it moves with every change: the denial memory then forgets sooner).
      else s = table.insert(fd, type, st[St.dev], st[St.ino], this.rootCaller,
        st[St.btime] || st[St.ctime], st[St.btime] ? st[St.btimeNs] : st[St.ctimeNs]);
      const inserted = s >= 0 && table.fd(s) === fd;
      if (inserted) {
        if (handle > 0) table.setHandle(s, this.fds.handle, handle, this.fds.mount);
        this.fds.pinLocked(s); // until the request ends, as any slot's descriptor in use
      }
      table.unlock();
      if (!inserted) sys.close(fd);
      else {
        if (this.opt.watchFd >= 0 && type === S_IFDIR && markDirectory(sys, this.opt.watchFd, fd) < 0) this.stats[C.watchMarkFailures]++;
        this.fds.trim();
      }
      if (s < 0) return -E.NFILE;
    }
    rep.entry(off, s + 1, table.generation(s), st, this.opt.validMs, this.attrMs(s));
    // The policy's record of the name: written once the reply is out (afterReply). An O_TMPFILE has none, nor a ".." (parent -1).
    if (this.decisions.active && name !== TMPFILE_NAME && parent >= 0) this.paths.rememberAfterReply(s, parent, name, mark);
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

  /** The table slot of the node at `name` in directory `pfd`, or -1 (its generation then in slotAtGeneration). */
  private slotAt(pfd: number, name: Uint8Array): number {
    if (this.sys.fstatat(pfd, name, AT_SYMLINK_NOFOLLOW, this.st2) < 0) return -1;
    this.table.lock();
    const s = this.table.find(this.st2[St.dev], this.st2[St.ino]);
    this.slotAtGeneration = s >= 0 ? this.table.generation(s) : 0;
    this.table.unlock();
    return s;
  }
  private slotAtGeneration = 0;

  private stat(fd: number): number {
    return this.sys.fstatat(fd, EMPTY, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, this.st);
  }

  // ---- the operations (HANDLERS; called by dispatch only) ----------------------------
  // ---- entries ----------------------------------------------------------------------
  lookup(req: Request, rep: Reply): number {
    const name = req.name(0);
    // "." and "..": the kernel decoding a file handle it gave out (EXPORT_SUPPORT, fuse/init.ts).
    if (name.length <= 2 && name[0] === DOT && (name.length === 1 || name[1] === DOT)) {
      return name.length === 1 ? this.lookupSelf(req, rep) : this.lookupParent(req, rep);
    }
    const p = this.slot(req.nodeid);
    if (p < 0) return -E.STALE;
    const bad = this.nameError(name, -E.NOENT);
    if (bad) return bad;
    const pfd = this.fds.get(p);
    if (pfd < 0) return pfd;
    const r = this.enter(pfd, name, rep, 0, p);
    if (r === -E.NOENT) {
      // A negative entry: the kernel caches "no such name" for the entry
      // timeout (node id 0), so a create's lookup or a search path walked
      // again is not asked twice. A create through the mount replaces it.
      rep.zero(0, ENTRY_OUT);
      // Short at most: a create beside the mount while this lookup is in flight finds nothing to invalidate.
      rep.entryTimeout(0, Math.min(this.opt.validMs, NEGATIVE_MAX_MS));
      return ENTRY_OUT;
    }
    return r < 0 ? r : ENTRY_OUT;
  }

  /**
   * LOOKUP of "." on node id N: the kernel holds a file handle of N (node id
   * and generation) but not the node. A slot still in use answers as it is;
   * a forgotten one whose slot was not reused since is reopened by its own
   * file handle and comes back with its node id and generation (a directory
   * only if it is still under LOWER); the kernel then checks the generation,
   * so a slot reused by another inode gives ESTALE.
   */
  private lookupSelf(req: Request, rep: Reply): number {
    const s = req.nodeid - 1;
    const { table } = this;
    let fd: number;
    if (this.slot(req.nodeid) >= 0) {
      fd = this.fds.get(s);
      if (fd < 0) return fd;
      table.lock();
      const live = table.valid(s);
      if (live) table.addLookup(s);
      table.unlock();
      if (!live) return -E.STALE;
    } else {
      fd = this.fds.revive(s, this.rootCaller);
      if (fd < 0) return fd;
      if ((table.type(s) & S_IFMT) === S_IFDIR && !this.underLower(fd)) {
        this.forgetOne(req.nodeid, 1);
        return -E.STALE;
      }
    }
    const r = this.stat(fd);
    if (r < 0) {
      this.forgetOne(req.nodeid, 1);
      return r;
    }
    rep.entry(0, s + 1, table.generation(s), this.st, this.opt.validMs, this.attrMs(s));
    return ENTRY_OUT;
  }

  /** LOOKUP of ".." on a directory: its parent, when that is LOWER or under it (a file handle's parent, or a directory's, being reconnected). */
  private lookupParent(req: Request, rep: Reply): number {
    const s = this.slot(req.nodeid);
    if (s < 0) return -E.STALE;
    if (s === ROOT_ID - 1 || (this.table.type(s) & S_IFMT) !== S_IFDIR) return -E.NOENT;
    const fd = this.fds.get(s);
    if (fd < 0) return fd;
    // The one walk upwards the daemon makes: checked to stay within LOWER.
    const up = this.sys.openat(fd, '..', O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC, 0);
    if (up < 0) return up;
    try {
      if (!this.underLower(up)) return -E.NOENT;
      const r = this.enter(up, EMPTY_NAME, rep, 0, -1, up);
      return r < 0 ? r : ENTRY_OUT;
    } finally {
      this.sys.close(up);
    }
  }

  /** Is the directory of handle `fd` LOWER itself or under it (not moved out beside the mount)? */
  private underLower(fd: number): boolean {
    try {
      return !this.lowerPaths.relative(fd).startsWith('/');
    } catch {
      return false;
    }
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

  forget(req: Request): number {
    this.forgetOne(req.nodeid, req.u64(ForgetIn.nlookup));
    return 0;
  }

  batchForget(req: Request): number {
    const count = req.u32(BatchForgetIn.count);
    for (let i = 0, off = BatchForgetIn.SIZE; i < count && IN_HEADER + off + ForgetOne.SIZE <= req.len; i++, off += ForgetOne.SIZE) {
      this.forgetOne(req.u64(off + ForgetOne.nodeid), req.u64(off + ForgetOne.nlookup));
    }
    return 0;
  }

  getattr(req: Request, rep: Reply): number {
    const s = this.slot(req.nodeid);
    const fd = s < 0 ? -E.STALE : this.fds.get(s);
    if (fd < 0) return fd;
    const r = this.stat(fd);
    if (r < 0) return r;
    rep.attrOut(0, this.st, this.attrMs(s));
    return ATTR_OUT;
  }

  setattr(req: Request, rep: Reply): number {
    const s = this.slot(req.nodeid);
    if (s < 0) return -E.STALE;
    const { sys } = this;
    const fd = this.fds.get(s);
    if (fd < 0) return fd;
    const valid = req.u32(SetattrIn.valid);
    // A passthrough open has no descriptor here (opens.ts): its changes are made by the node's, as without one.
    const fh = valid & FATTR_FH && !fhPassthrough(req.u64(SetattrIn.fh)) ? this.files.fd(fhEntry(req.u64(SetattrIn.fh))) : -1;
    let r = 0;
    // truncate(2) opens nothing: decided as an open for writing with O_TRUNC
    // would be, before anything changes (ftruncate's open was decided when made).
    if ((valid & FATTR_SIZE) && !(valid & FATTR_FH) && this.decisions.active) {
      const d = this.decisions.decide(req, O.WRONLY | O.TRUNC, s, fd, undefined, 'truncate');
      if (d?.action === 'deny') return this.decisions.denied(d);
    }
    if (valid & FATTR_MODE) {
      const mode = req.u32(SetattrIn.mode);
      const privileged = (mode & (S_ISUID | S_ISGID)) !== 0;
      if (privileged && (r = this.stat(fd)) < 0) return r;
      const before = this.st[St.mode] & 0o7777;
      r = fh >= 0 ? sys.fchmod(fh, mode) : sys.fchmodat(AT_FDCWD, procFd(fd), mode & 0o7777);
      if (r < 0) return r;
      if (privileged && this.ptWriters(s) > 0) {
        // Someone without CAP_FSETID has the file open for writing in
        // passthrough: their writes would not clear the bits (they never
        // reach the daemon). Refused, after the change so that an open
        // racing it is either counted here or sees the bits (Opens.open).
        sys.fchmodat(AT_FDCWD, procFd(fd), before);
        return -E.BUSY;
      }
    }
    if (valid & (FATTR_UID | FATTR_GID)) {
      const uid = valid & FATTR_UID ? req.u32(SetattrIn.uid) : -1;
      const gid = valid & FATTR_GID ? req.u32(SetattrIn.gid) : -1;
      r = sys.fchownat(fd, EMPTY, uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
      if (r < 0) return r;
    }
    if (valid & FATTR_SIZE) {
      if (valid & FATTR_KILL_SUIDGID) this.privileges.killPrivs(fd, req, 0);
      const size = req.offset(SetattrIn.size);
      if (size < 0) return -E.FBIG;
      r = fh >= 0 ? sys.ftruncate(fh, size) : sys.truncate(procFd(fd), size);
      if (r < 0) return r;
    }
    if (valid & (FATTR_ATIME | FATTR_MTIME)) {
      const aNs = valid & FATTR_ATIME ? (valid & FATTR_ATIME_NOW ? UTIME_NOW : req.u32(SetattrIn.atimeNsec)) : UTIME_OMIT;
      const mNs = valid & FATTR_MTIME ? (valid & FATTR_MTIME_NOW ? UTIME_NOW : req.u32(SetattrIn.mtimeNsec)) : UTIME_OMIT;
      r = sys.utimensat(fd, EMPTY, req.i64(SetattrIn.atime), aNs, req.i64(SetattrIn.mtime), mNs, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
      if (r < 0) return r;
    }
    r = this.stat(fd);
    if (r < 0) return r;
    rep.attrOut(0, this.st, this.attrMs(s));
    return ATTR_OUT;
  }

  readlink(req: Request, rep: Reply): number {
    const fd = this.nodeFd(req.nodeid);
    if (fd < 0) return fd;
    return this.sys.readlinkat(fd, EMPTY, rep.buf, rep.at(0), Math.min(4096, rep.room));
  }

  /** The common tail of the node-creating requests (made as the caller, creds.ts): look the node up. */
  private created(pfd: number, name: Uint8Array, req: Request, rep: Reply, r: number): number {
    if (r < 0) return r;
    const e = this.enter(pfd, name, rep, 0, req.nodeid - 1);
    return e < 0 ? e : ENTRY_OUT;
  }

  private parentOf(req: Request, nameOff: number): [number, Uint8Array] | number {
    const p = this.slot(req.nodeid);
    if (p < 0) return -E.STALE;
    const name = req.name(nameOff);
    const bad = this.nameError(name, -E.INVAL);
    if (bad) return bad;
    const pfd = this.fds.get(p);
    return pfd < 0 ? pfd : [pfd, name];
  }

  mknod(req: Request, rep: Reply): number {
    const pn = this.parentOf(req, MknodIn.SIZE);
    if (typeof pn === 'number') return pn;
    const [pfd, name] = pn;
    const umask = req.u32(MknodIn.umask);
    const mode = this.creds.modeFor(req.u32(MknodIn.mode), umask);
    const dev = decodeDev(req.u32(MknodIn.rdev));
    // A regular file made by mknod is a create without an open: decided as one (a denied create leaves nothing).
    if ((mode & S_IFMT) === S_IFREG && this.decisions.active) {
      const stop = this.decisions.refused();
      if (stop) return stop;
      const d = this.decisions.decide(req, O.WRONLY | O.CREAT, req.nodeid - 1, pfd, name, 'mknod');
      if (d?.action === 'deny') return this.decisions.denied(d);
    }
    return this.created(pfd, name, req, rep, this.creds.make(req, umask, () => this.sys.mknodat(pfd, name, mode, dev)));
  }

  mkdir(req: Request, rep: Reply): number {
    const pn = this.parentOf(req, MkdirIn.SIZE);
    if (typeof pn === 'number') return pn;
    const [pfd, name] = pn;
    const umask = req.u32(MkdirIn.umask);
    const mode = this.creds.modeFor(req.u32(MkdirIn.mode) & 0o7777, umask);
    return this.created(pfd, name, req, rep, this.creds.make(req, umask, () => this.sys.mkdirat(pfd, name, mode)));
  }

  symlink(req: Request, rep: Reply): number {
    const pn = this.parentOf(req, 0);
    if (typeof pn === 'number') return pn;
    const [pfd, name] = pn;
    const target = req.name(req.after(0));
    return this.created(pfd, name, req, rep, this.creds.make(req, -1, () => this.sys.symlinkat(target, pfd, name)));
  }

  link(req: Request, rep: Reply): number {
    const pn = this.parentOf(req, LinkIn.SIZE);
    if (typeof pn === 'number') return pn;
    const old = this.slot(req.u64(LinkIn.oldNodeid));
    if (old < 0) return -E.STALE;
    const ofd = this.fds.get(old);
    if (ofd < 0) return ofd;
    const refused = this.decisions.nameAllowed(req, old, ofd, req.nodeid - 1, pn[0], pn[1], 'a hard link');
    if (refused) return refused;
    const r = this.sys.linkat(ofd, EMPTY, pn[0], pn[1], AT_EMPTY_PATH);
    if (r < 0) return r;
    const e = this.enter(pn[0], pn[1], rep, 0, req.nodeid - 1);
    return e < 0 ? e : ENTRY_OUT;
  }

  unlink(req: Request): number {
    const pn = this.parentOf(req, 0);
    if (typeof pn === 'number') return pn;
    return this.done(req, this.sys.unlinkat(pn[0], pn[1], 0));
  }

  rmdir(req: Request): number {
    const pn = this.parentOf(req, 0);
    if (typeof pn === 'number') return pn;
    return this.done(req, this.sys.unlinkat(pn[0], pn[1], AT_REMOVEDIR));
  }

  /**
   * A removal's result, or 0 for a request sent again (Request.resent) whose
   * name is gone: the daemon that died had removed it and not said so.
   */
  private done(req: Request, r: number, stillThere = false): number {
    return r === -E.NOENT && !stillThere && req.resent() ? 0 : r;
  }

  private renameCommon(req: Request, nameOff: number, flags: number): number {
    const pn = this.parentOf(req, nameOff);
    if (typeof pn === 'number') return pn;
    const np = this.slot(req.u64(RenameIn.newdir)); // the same field in Rename2In
    if (np < 0) return -E.STALE;
    const npfd = this.fds.get(np);
    if (npfd < 0) return npfd;
    const newName = req.name(req.after(nameOff));
    const bad = this.nameError(newName, -E.INVAL);
    if (bad) return bad;
    if (this.decisions.active) {
      // A file keeps its decision under its new name, as for a hard link (decisions.ts).
      const refused = this.renameAllowed(req, pn[0], pn[1], np, newName) ||
        ((flags & RENAME_EXCHANGE) ? this.renameAllowed(req, npfd, newName, req.nodeid - 1, pn[1]) : 0);
      if (refused) return refused;
    }
    let r = this.sys.renameat2(pn[0], pn[1], npfd, newName, flags);
    // Sent again after a daemon died: done already if the old name is gone and the new one is there.
    if (r === -E.NOENT && req.resent()) r = this.done(req, r, this.sys.fstatat(npfd, newName, AT_SYMLINK_NOFOLLOW, this.st) < 0);
    if (r === 0 && this.decisions.active) {
      // The policy's remembered paths follow the move (paths.ts).
      const op = req.nodeid - 1;
      const sides = [{ parent: np, name: newName, fromParent: op, fromName: pn[1] }];
      if (flags & RENAME_EXCHANGE) sides.push({ parent: op, name: pn[1], fromParent: np, fromName: newName });
      this.paths.renamed(sides, (i) => this.slotAt(i === 0 ? npfd : pn[0], sides[i].name));
    }
    return r;
  }

  /** May the regular file at `name` (in the directory `fromFd`) be called `to` in slot `into`? (0 or -EPERM; directories: not decided.) */
  private renameAllowed(req: Request, fromFd: number, name: Uint8Array, into: number, to: Uint8Array): number {
    const s = this.slotAt(fromFd, name);
    if (s < 0 || (this.table.type(s) & S_IFMT) !== S_IFREG) return 0;
    // Found by name, not held by the kernel for this request: pinned only if still that node.
    const fd = this.fds.get(s, this.slotAtGeneration);
    const intoFd = fd < 0 ? fd : this.fds.get(into);
    if (intoFd < 0) return intoFd;
    return this.decisions.nameAllowed(req, s, fd, into, intoFd, to, 'a rename');
  }

  rename(req: Request): number {
    return this.renameCommon(req, RenameIn.SIZE, 0);
  }

  rename2(req: Request): number {
    return this.renameCommon(req, Rename2In.SIZE, req.u32(Rename2In.flags));
  }

  // ---- open files -------------------------------------------------------------------------
  /** fuse_open_out at body offset `off`. */
  private openOut(rep: Reply, off: number, fh: number, openFlags: number, backingId: number): number {
    rep.u64(off + OpenOut.fh, fh);
    rep.u32(off + OpenOut.openFlags, openFlags);
    rep.i32(off + OpenOut.backingId, backingId);
    return off + OpenOut.SIZE;
  }

  private opened(rep: Reply, off: number, o: Opened): number {
    return this.openOut(rep, off, o.fh, o.openFlags, o.backingId);
  }

  open(req: Request, rep: Reply): number {
    const s = this.slot(req.nodeid);
    if (s < 0) return -E.STALE;
    if ((this.table.type(s) & S_IFMT) !== S_IFREG) return -E.INVAL;
    const stop = this.decisions.refused();
    if (stop) return stop;
    const flags = req.u32(OpenIn.flags);
    const fd = this.fds.get(s);
    if (fd < 0) return fd;
    const d = this.decisions.decide(req, flags, s, fd);
    if (d?.action === 'deny') return this.decisions.denied(d);
    const o = this.opens.open(s, req, flags, req.u32(OpenIn.openFlags), d);
    return typeof o === 'number' ? o : this.opened(rep, 0, o);
  }

  create(req: Request, rep: Reply): number {
    const pn = this.parentOf(req, CreateIn.SIZE);
    if (typeof pn === 'number') return pn;
    const [pfd, name] = pn;
    const { sys } = this;
    const flags = req.u32(CreateIn.flags);
    const umask = req.u32(CreateIn.umask);
    const mode = this.creds.modeFor(req.u32(CreateIn.mode) & 0o7777, umask);
    const stop = this.decisions.refused();
    if (stop) return stop;
    // The daemon's last descriptors are root's (inodes.ts): refused before anything exists.
    if (!this.table.roomForOpen(this.rootCaller)) return -E.NFILE;
    // Decided before anything exists: a denied create leaves nothing behind.
    const d = this.decisions.decide(req, flags, req.nodeid - 1, pfd, name);
    if (d?.action === 'deny') return this.decisions.denied(d);
    const passthrough = this.opens.wantsPassthrough(d);
    const base = createFlags(flags, passthrough);
    let created = true;
    // Made as the caller (creds.ts); the open it returns is the daemon's to keep.
    let fd = this.creds.make(req, umask, () => sys.openat2(pfd, name, base | O.CREAT | O.EXCL | O.CLOEXEC, mode, RESOLVE_CONFINED));
    if (fd === -E.EXIST && !(flags & O.EXCL)) {
      created = false;
      fd = this.privileges.openExisting(pfd, name, flags, base, req, this.creds);
    }
    if (fd < 0) return fd;
    const e = this.enter(pfd, name, rep, 0, req.nodeid - 1, fd);
    if (e < 0) {
      // Undo the create, if the name still holds the file it made.
      const { st, st2 } = this;
      if (created && sys.fstatat(fd, EMPTY, AT_EMPTY_PATH, st) === 0 && sys.fstatat(pfd, name, AT_SYMLINK_NOFOLLOW, st2) === 0 &&
          st[St.ino] === st2[St.ino] && st[St.dev] === st2[St.dev]) sys.unlinkat(pfd, name, 0);
      sys.close(fd);
      return e;
    }
    return this.openCreated(req, rep, flags & ~O.TRUNC, d, fd, passthrough);
  }

  /** The tail of CREATE and TMPFILE: open the file just made and entered (its entry at body offset 0), and reply with both. */
  private openCreated(req: Request, rep: Reply, flags: number, d: Decision | null, fd: number, passthrough: boolean): number {
    const s = rep.dv.getUint32(rep.at(0), true) - 1;
    const o = this.opens.open(s, req, flags, 0, d, fd, passthrough);
    if (typeof o === 'number') return o;
    // The entry was written before the open was counted: its attributes follow the open's mode (attrMs).
    rep.entryAttrTimeout(0, this.attrMs(s));
    return this.opened(rep, ENTRY_OUT, o);
  }

  /**
   * O_TMPFILE: an unnamed file in the directory, made as the caller (creds.ts)
   * with O_TMPFILE on the lower directory, looked up and opened as a create's
   * file is; a later linkat through the mount names it (LINK), unless it was
   * opened O_EXCL. Decided as a create named TMPFILE_NAME in the directory.
   */
  tmpfile(req: Request, rep: Reply): number {
    const p = this.slot(req.nodeid);
    if (p < 0) return -E.STALE;
    const pfd = this.fds.get(p);
    if (pfd < 0) return pfd;
    const { sys } = this;
    const flags = req.u32(CreateIn.flags) & ~(O.TMPFILE | O.CREAT);
    const umask = req.u32(CreateIn.umask);
    const mode = this.creds.modeFor(req.u32(CreateIn.mode) & 0o7777, umask);
    const stop = this.decisions.refused();
    if (stop) return stop;
    if (!this.table.roomForOpen(this.rootCaller)) return -E.NFILE;
    const d = this.decisions.decide(req, flags | O.CREAT, p, pfd, TMPFILE_NAME);
    if (d?.action === 'deny') return this.decisions.denied(d);
    const passthrough = this.opens.wantsPassthrough(d);
    const base = createFlags(flags, passthrough);
    const fd = this.creds.make(req, umask, () => sys.openat2(pfd, '.', (base & ~O.EXCL) | (flags & O.EXCL) | O.TMPFILE | O.CLOEXEC, mode, RESOLVE_CONFINED));
    if (fd < 0) return fd;
    const e = this.enter(pfd, TMPFILE_NAME, rep, 0, p, fd);
    if (e < 0) {
      sys.close(fd); // unnamed: gone with its last descriptor
      return e;
    }
    return this.openCreated(req, rep, flags, d, fd, passthrough);
  }

  read(req: Request, _rep: Reply, x: Exchange): number {
    const fh = req.u64(ReadIn.fh);
    const off = req.offset(ReadIn.offset);
    if (off < 0) return -E.OVERFLOW;
    const size = req.u32(ReadIn.size);
    const fd = this.files.fd(fhEntry(fh));
    if (fhAudited(fh)) this.decisions.auditIo(req, 'read', fd, off, size);
    return this.engine.read(x, fd, size, off);
  }

  write(req: Request, _rep: Reply, x: Exchange): number {
    const fh = req.u64(WriteIn.fh);
    const fd = this.files.fd(fhEntry(fh));
    const off = req.offset(WriteIn.offset);
    if (off < 0) return -E.FBIG;
    const size = req.u32(WriteIn.size);
    if (fhAudited(fh)) this.decisions.auditIo(req, 'write', fd, off, size);
    if (req.u32(WriteIn.writeFlags) & FUSE_WRITE_KILL_SUIDGID) this.privileges.killPrivs(fd, req, req.nodeid);
    return this.engine.write(x, fd, size, off);
  }

  flush(): number {
    // Writes are already on the lower fs when acknowledged: nothing to flush.
    return 0;
  }

  release(req: Request): number {
    const s = this.slot(req.nodeid);
    const fh = req.u64(ReleaseIn.fh);
    // Sent again after a daemon died, for a mediated open it had released already (its entry is gone): done.
    if (req.resent() && !fhPassthrough(fh) && !this.files.isOpen(fhEntry(fh))) return 0;
    if (s >= 0) this.opens.release(s, fh);
    return 0;
  }

  fsync(req: Request, _rep: Reply, x: Exchange): number {
    const fd = this.fileFd(req.u64(FsyncIn.fh), req.nodeid, O.RDONLY);
    if (fd < 0) return fd;
    return this.engine.fsync(x, fd, (req.u32(FsyncIn.fsyncFlags) & FUSE_FSYNC_FDATASYNC) !== 0, this.owned(fd));
  }

  fsyncdir(req: Request): number {
    return this.sys.fsync(this.files.fd(fhEntry(req.u64(FsyncIn.fh))), (req.u32(FsyncIn.fsyncFlags) & FUSE_FSYNC_FDATASYNC) !== 0);
  }

  fallocate(req: Request, _rep: Reply, x: Exchange): number {
    const off = req.offset(FallocateIn.offset);
    const len = req.offset(FallocateIn.length);
    if (off < 0 || len < 0) return -E.FBIG;
    const fd = this.fileFd(req.u64(FallocateIn.fh), req.nodeid, O.WRONLY);
    if (fd < 0) return fd;
    // Natively a change of the file clears suid/sgid unless the caller has
    // CAP_FSETID; with KILLPRIV_V2 that is the daemon's duty (privileges.ts).
    if (req.uid !== 0) this.privileges.killPrivs(fd, req, req.nodeid);
    return this.engine.fallocate(x, fd, req.u32(FallocateIn.mode), off, len, this.owned(fd));
  }

  lseek(req: Request, rep: Reply): number {
    const fd = this.fileFd(req.u64(LseekIn.fh), req.nodeid, O.RDONLY);
    if (fd < 0) return fd;
    // All 64 bits both ways (SEEK_DATA and SEEK_HOLE, the only ones the
    // kernel asks for): the lower file system answers for every offset,
    // negative or past 2^53, as it would natively.
    const r = this.sys.lseek(fd, req.big64(LseekIn.offset), req.u32(LseekIn.whence));
    if (typeof r === 'bigint') rep.big64(LseekOut.offset, r);
    else if (r < 0) return r;
    else rep.u64(LseekOut.offset, r);
    return LseekOut.SIZE;
  }

  copyFileRange(req: Request, rep: Reply): number {
    const inOff = req.offset(CopyFileRangeIn.offIn);
    const outOff = req.offset(CopyFileRangeIn.offOut);
    if (inOff < 0 || outOff < 0) return -E.FBIG;
    const out = this.fileFd(req.u64(CopyFileRangeIn.fhOut), req.u64(CopyFileRangeIn.nodeidOut), O.WRONLY);
    if (out < 0) return out;
    const fhIn = req.u64(CopyFileRangeIn.fhIn);
    const from = this.fileFd(fhIn, req.nodeid, O.RDONLY);
    if (from < 0) return from;
    if (req.uid !== 0) this.privileges.killPrivs(out, req, req.u64(CopyFileRangeIn.nodeidOut)); // as for fallocate
    // A shorter copy is allowed; the kernel copies at most MAX_RW_COUNT per call anyway.
    const len = Math.min(req.u64(CopyFileRangeIn.len), MAX_RW_COUNT);
    const n = this.sys.copyFileRange(from, inOff, out, outOff, len, 0);
    if (n < 0) return n;
    // Both sides of an audited file are in the trail, as a read and a write would be.
    if (fhAudited(fhIn)) this.decisions.auditIo(req, 'read', from, inOff, n);
    if (fhAudited(req.u64(CopyFileRangeIn.fhOut))) this.decisions.auditIo(req, 'write', out, outOff, n, req.u64(CopyFileRangeIn.nodeidOut) - 1);
    if (req.opcode === Op.COPY_FILE_RANGE_64) {
      rep.u64(CopyFileRange64Out.size, n);
      return CopyFileRange64Out.SIZE;
    }
    rep.u32(WriteOut.size, n);
    rep.u32(WriteOut.size + 4, 0);
    return WriteOut.SIZE;
  }

  // ---- directories ------------------------------------------------------------------------
  opendir(req: Request, rep: Reply): number {
    const s = this.slot(req.nodeid);
    if (s < 0) return -E.STALE;
    if (!this.table.roomForOpen(this.rootCaller)) return -E.NFILE;
    const pfd = this.fds.get(s);
    if (pfd < 0) return pfd;
    const fd = this.sys.reopen(pfd, O.RDONLY | O.DIRECTORY | O.CLOEXEC);
    if (fd < 0) return fd;
    const e = this.files.add(fd, s, O.RDONLY | O.DIRECTORY | O.CLOEXEC);
    if (e < 0) {
      this.sys.close(fd);
      return -E.NFILE;
    }
    this.table.addHeld(1);
    return this.openOut(rep, 0, e, 0, 0);
  }

  releasedir(req: Request): number {
    const fd = this.files.remove(fhEntry(req.u64(ReleaseIn.fh)));
    if (fd === NOT_OPEN) return 0; // released already (a RELEASEDIR sent again after a daemon died)
    if (fd >= 0) this.sys.close(fd); // freed even when close reports an error
    this.table.addHeld(-1);
    return 0;
  }

  readdir(req: Request, rep: Reply): number {
    return this.listDir(req, rep, false);
  }

  readdirplus(req: Request, rep: Reply): number {
    return this.listDir(req, rep, true);
  }

  /**
   * READDIR and READDIRPLUS. Offsets are the lower fs's own d_off cookies,
   * copied byte for byte (ext4's are 64-bit hashes a double cannot hold).
   * An entry is looked up (and counted) only once it is sure to fit.
   */
  private listDir(req: Request, rep: Reply, plus: boolean): number {
    const { sys, dents, dentsView: dv } = this;
    const fd = this.files.fd(fhEntry(req.u64(ReadIn.fh)));
    const size = Math.min(req.u32(ReadIn.size), rep.room);
    const r = sys.lseek(fd, req.big64(ReadIn.offset), SEEK_SET);
    if (typeof r === 'number' && r < 0) return r;
    // fuse_dirent is larger than linux_dirent64; direntplus much larger.
    const want = Math.min(dents.length, plus ? Math.max(512, size >> 2) : size);
    const n = sys.getdents64(fd, dents, 0, want);
    if (n < 0) return n;
    const s = plus ? this.slot(req.nodeid) : -1;
    const pfd = s >= 0 ? this.fds.get(s) : -1;
    const out = rep.buf;
    const odv = rep.dv;
    let used = 0;
    for (let p = 0; p < n;) {
      const reclen = dv.getUint16(p + Dirent64.reclen, true);
      const type = dents[p + Dirent64.type];
      let end = dents.indexOf(0, p + Dirent64.name);
      if (end < 0 || end > p + reclen) end = p + reclen;
      const nameLen = end - (p + Dirent64.name);
      const base = plus ? DIRENTPLUS_BASE : DIRENT_BASE;
      const rec = (base + nameLen + 7) & ~7;
      if (used + rec > size) break;
      const name = dents.subarray(p + Dirent64.name, end);
      let o = rep.at(used);
      if (plus) {
        const dot = name[0] === DOT && (nameLen === 1 || (nameLen === 2 && name[1] === DOT));
        if (dot || this.enter(pfd, name, rep, used, req.nodeid - 1) < 0) {
          // The kernel skips entries with node id 0; "." and ".." are always such.
          rep.zero(used, ENTRY_OUT);
        }
        o += ENTRY_OUT;
      }
      // fuse_dirent: ino and off (the cookie) copied raw, as linux_dirent64 has them; namelen, type, name
      out.set(dents.subarray(p + Dirent64.ino, p + Dirent64.reclen), o + Dirent.ino);
      odv.setUint32(o + Dirent.namelen, nameLen, true);
      odv.setUint32(o + Dirent.type, type, true);
      out.set(name, o + Dirent.name);
      out.fill(0, o + Dirent.name + nameLen, rep.at(used + rec));
      used += rec;
      p += reclen;
    }
    return used;
  }

  statfs(req: Request, rep: Reply): number {
    const s = this.slot(req.nodeid);
    const fd = this.fds.get(s >= 0 ? s : ROOT_ID - 1);
    if (fd < 0) return fd;
    const r = this.sys.fstatfs(fd, this.sfs);
    if (r < 0) return r;
    const f = this.sfs;
    rep.u64(StatfsOut.blocks, f[Sfs.blocks]);
    rep.u64(StatfsOut.bfree, f[Sfs.bfree]);
    rep.u64(StatfsOut.bavail, f[Sfs.bavail]);
    rep.u64(StatfsOut.files, f[Sfs.files]);
    rep.u64(StatfsOut.ffree, f[Sfs.ffree]);
    rep.u32(StatfsOut.bsize, f[Sfs.bsize]);
    rep.u32(StatfsOut.namelen, f[Sfs.namelen]);
    rep.u32(StatfsOut.frsize, f[Sfs.frsize]);
    rep.zero(StatfsOut.frsize + 4, StatfsOut.SIZE - (StatfsOut.frsize + 4));
    return StatfsOut.SIZE;
  }

  // ---- xattrs -------------------------------------------------------------------------------
  /** The node's descriptor as a path (the xattr calls want one), or -errno. */
  private xattrPath(req: Request): string | number {
    const fd = this.nodeFd(req.nodeid);
    return fd < 0 ? fd : procFd(fd);
  }

  getxattr(req: Request, rep: Reply): number {
    const path = this.xattrPath(req);
    if (typeof path === 'number') return path;
    const size = req.u32(GetxattrIn.size);
    const name = req.name(GetxattrIn.SIZE);
    if (size === 0) return this.xattrSize(rep, this.sys.getxattr(path, name, rep.buf, rep.at(0), 0, true));
    return this.sys.getxattr(path, name, rep.buf, rep.at(0), Math.min(size, rep.room), true);
  }

  /**
   * The names are listed by the lower fs for the daemon, i.e. for root:
   * `trusted.*` names, which the lower fs lists only to CAP_SYS_ADMIN, are
   * taken out for callers without it (privileges.ts).
   */
  listxattr(req: Request, rep: Reply): number {
    const path = this.xattrPath(req);
    if (typeof path === 'number') return path;
    const size = req.u32(GetxattrIn.size);
    let n = this.sys.listxattr(path, rep.buf, rep.at(0), rep.room, true);
    if (n < 0) return n;
    n = this.privileges.visibleXattrs(req, rep.buf, rep.at(0), n);
    if (size === 0) return this.xattrSize(rep, n);
    return n > size ? -E.RANGE : n;
  }

  /** The answer to a GETXATTR or LISTXATTR that asked for the size only. */
  private xattrSize(rep: Reply, n: number): number {
    if (n < 0) return n;
    rep.u32(XattrSizeOut.size, n);
    rep.u32(XattrSizeOut.size + 4, 0);
    return XattrSizeOut.SIZE;
  }

  setxattr(req: Request): number {
    const path = this.xattrPath(req);
    if (typeof path === 'number') return path;
    const size = req.u32(SetxattrIn.size);
    const flags = req.u32(SetxattrIn.flags);
    const valueOff = req.after(SetxattrIn.SIZE);
    if (IN_HEADER + valueOff + size > req.len) return -E.INVAL;
    const name = req.name(SetxattrIn.SIZE);
    // File capabilities, like suid (setattr): not while unprivileged passthrough writers could keep them.
    const caps = isCapsName(name);
    if (caps && this.ptWriters(this.slot(req.nodeid)) > 0) return -E.BUSY;
    // What to put back if the count changes meanwhile (below).
    const old = caps ? this.sys.getxattr(path, XATTR_CAPS, this.capsBuf, 0, this.capsBuf.length, true) : -1;
    // An ACL is set as the caller: the lower fs then updates the mode as natively (sgid dropped for a non-member).
    const r = isAclName(name)
      ? this.creds.asCaller(req, () => this.sys.setxattr(path, name, req.buf, req.at(valueOff), size, flags, true))
      : this.sys.setxattr(path, name, req.buf, req.at(valueOff), size, flags, true);
    if (r === 0 && caps && this.ptWriters(this.slot(req.nodeid)) > 0) {
      if (old >= 0) this.sys.setxattr(path, XATTR_CAPS, this.capsBuf, 0, old, 0, true);
      else this.sys.removexattr(path, XATTR_CAPS, true);
      return -E.BUSY;
    }
    return r;
  }

  /** Passthrough writers of slot `s` who are not root (inodes.ts). */
  private ptWriters(s: number): number {
    if (s < 0) return 0;
    this.table.lock();
    const n = this.table.ptWriters(s);
    this.table.unlock();
    return n;
  }

  removexattr(req: Request): number {
    const path = this.xattrPath(req);
    if (typeof path === 'number') return path;
    return this.sys.removexattr(path, req.name(0), true);
  }

  // ---- session ------------------------------------------------------------------------------
  interrupt(): number {
    // Metadata requests are served before the next one is read, so by the
    // time an INTERRUPT arrives they are answered. Mediated I/O in flight on
    // the ring is not cancelled: it ends on the lower file soon enough, and
    // its reply goes out then (the kernel takes it, or drops it with ENOENT
    // if the caller is gone). The kernel needs no answer to INTERRUPT itself.
    return 0;
  }

  destroy(): number {
    return 0;
  }
}


