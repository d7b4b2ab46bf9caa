// The policy adapter: what the mirror asks at each open and create, answered
// by the pure policy (src/policy/) from what the daemon knows about the file
// and the caller, counted, and written to the audit trail. The policy sees
// an OpenContext; the sources it reads only sometimes (the caller's process,
// the file's size and first bytes) are lazy, read at most once per decision.
import { performance } from 'node:perf_hooks';
import { Native, St } from '../native/index.js';
import type { Request } from '../fuse/codec.js';
import { E, O, AT_EMPTY_PATH } from '../native/linux.js';
import { C, MAX_RULES } from '../io/counters.js';
import { Policy, Decision, OpenContext, PathView, accessFromFlags, processInfo, viewOfPath } from '../policy/index.js';
import { LowerPaths, ParentHint, PathUnknown } from './lowerpath.js';
import type { InodeTable } from './inodes.js';
import type { PathCache } from './paths.js';
import type { SlotFds } from './slotfds.js';

/** Where audit lines go (server/audit.ts writes them to the --audit file). */
export interface AuditSink {
  /** True once the sink failed and was told to refuse opens (--audit-failure deny). */
  readonly refusing: boolean;
  write(record: Record<string, unknown>): void;
}

/** The decision when the path cannot be told (lowerpath.ts, PathUnknown). */
const PATH_UNKNOWN: Decision = Object.freeze({
  action: 'deny', audit: false, errno: E.ACCES, rule: 'path-unknown', ruleIndex: -1,
  reason: 'the path is past PATH_MAX and cannot be told for sure',
});

/** What another name of the same inode was denied (the errno is filled per use). */
function sameInode(errno: number): Decision {
  return {
    action: 'deny', audit: false, errno, rule: 'same-inode', ruleIndex: -1,
    reason: 'another name of this file was denied this access (the policy decides per file, under every name it has)',
  };
}

/** Which opens a decision covers, as access bits: 1 read, 2 write. */
const READ = 1;
const WRITE = 2;

/** Names of new entries, for the policy (cheaper than a Buffer made per call). */
const UTF8 = new TextDecoder();
const EMPTY = '';
type ProcessFacts = { comm?: string; exe?: string };

export class Decisions {
  private policy: Policy | null;
  private readonly st = new Float64Array(St.LENGTH);

  constructor(
    private readonly sys: Native,
    private readonly stats: Float64Array,
    private readonly paths: PathCache,
    private readonly lowerPaths: LowerPaths,
    private readonly table: InodeTable,
    private readonly fds: SlotFds,
    policy: Policy | null,
    readonly audit: AuditSink | null,
    private readonly log: (msg: string) => void,
  ) {
    this.policy = policy;
    this.epoch = policy ? epochOf(policy) : 0;
  }

  /** A reloaded policy: new opens follow it, open files keep their mode. */
  setPolicy(p: Policy | null): void {
    this.policy = p;
    this.epoch = p ? epochOf(p) : 0;
  }

  /** The policy's mark on the inode table's denial memory (the same in every worker). */
  private epoch: number;

  get active(): boolean {
    return this.policy !== null;
  }

  /** Before any open or create: a broken audit log with --audit-failure deny refuses everything (-EACCES), else 0. */
  refused(): number {
    if (!this.audit?.refusing) return 0;
    this.stats[C.auditDenied]++;
    return -E.ACCES;
  }

  /** Count a denial by the policy; the errno is the rule's. */
  denied(d: Decision): number {
    this.stats[C.openDenied]++;
    return -d.errno;
  }

  /**
   * The policy's decision for an open (fd: the file's handle) or a create
   * (fd: the parent's handle, name: the new entry); null without a policy.
   * Counts the rule's hit and writes the audit line.
   */
  decide(req: Request, flags: number, s: number, fd: number, name?: Uint8Array, event: 'open' | 'truncate' | 'mknod' = 'open'): Decision | null {
    if (!this.policy) return null;
    try {
      return this.decideNow(this.policy, req, flags, s, fd, name, event);
    } catch (e) {
      if (!(e instanceof PathUnknown)) throw e;
      // The policy decides by the path: without it, refuse rather than guess.
      this.log(`refusing ${name ? 'a create in' : 'an open of'} node ${s + 1}: its path is past PATH_MAX and cannot be told (${e.message})`);
      return PATH_UNKNOWN;
    }
  }

  /**
   * May the file in slot `s` get `name` in directory slot `parent` (LINK:
   * another name; RENAME of a file: a new one)? Not if the new name is
   * looser for this caller, reading or writing: allowed where the old one
   * is denied, or not audited where the old one is (passthrough or
   * unaudited mediated make no difference). Else the caller could reach the
   * file under the rules of the other name. Returns 0 or -EPERM.
   */
  nameAllowed(req: Request, s: number, fd: number, parent: number, parentFd: number, name: Uint8Array, what: string): number {
    const pol = this.policy;
    if (!pol) return 0;
    // How strict a decision is: served < audited < denied.
    const rank = (d: Decision) => (d.action === 'deny' ? 2 : d.action === 'mediated' && d.audit ? 1 : 0);
    try {
      for (const flags of [O.RDONLY, O.WRONLY]) {
        const a = this.decideNow(pol, req, flags, s, fd, undefined, null);
        const b = this.decideNow(pol, req, flags, parent, parentFd, name, null, fd);
        if (rank(b) < rank(a)) {
          this.log(`refusing ${what} of node ${s + 1}: the new name is looser (${a.rule} -> ${b.rule})`);
          return -E.PERM;
        }
      }
    } catch (e) {
      if (!(e instanceof PathUnknown)) throw e;
      return -E.PERM;
    }
    return 0;
  }

  /**
   * The decision for an open of slot `s` (fd its handle), or of `name` in
   * directory slot `s`: a create, or with `event` null a look at that name
   * without counting, auditing or remembering anything (nameAllowed).
   */
  private decideNow(pol: Policy, req: Request, flags: number, s: number, fd: number, name: Uint8Array | undefined,
    event: 'open' | 'truncate' | 'mknod' | null, fileFd = fd): Decision {
    // Every 16th decision is timed (status: µs per decision): timing each would cost more than some decisions.
    const timed = event !== null && (++this.decisions & 15) === 0;
    const t0 = timed ? performance.now() : 0;
    const created = name !== undefined && event !== null;
    this.decidingFd = fd;
    this.fileFd = fileFd;
    this.decidingSlot = name ? -1 : s;
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
    let d = pol.forEveryOpener(pol.decide(ctx), ctx);
    if (event === null) return d;
    if (!created) d = this.perFile(pol, d, s, ctx.access.read, ctx.access.write);
    const hit = d.ruleIndex >= 0 && d.ruleIndex < MAX_RULES ? d.ruleIndex : MAX_RULES;
    this.stats[C.RULE_BASE + hit]++;
    this.stats[C.policyDecisions]++;
    if (timed) this.stats[C.policyMicros] += (performance.now() - t0) * 16000;
    const pid = req.pid;
    this.audit?.write({
      event, pid, uid: req.uid, gid: req.gid, comm: this.processOf(pid).comm ?? null, path,
      flags, create: created, decision: d.action, audited: d.audit, rule: d.rule, reason: d.reason,
    });
    return d;
  }

  /**
   * A file is denied under every name it has: what a rule on the file (not
   * on the opener) denies for one name of inode slot `s` is remembered in
   * the inode table, and an open of the same inode by another name that
   * the policy would allow is denied the same access (a hard link, a bind
   * mount inside LOWER). The memory is kept by device, inode and birth time
   * in a bounded table (inodes.ts), for this policy's text (another starts afresh).
   */
  private perFile(pol: Policy, d: Decision, s: number, read: boolean, write: boolean): Decision {
    const bits = (read ? READ : 0) | (write ? WRITE : 0);
    const { table } = this;
    if (d.action === 'deny') {
      // Remembered for the accesses that are denied to every opener of this
      // file (not a rule on the uid or the process, not a read that only the
      // write of an O_RDWR open made fail).
      if (d === PATH_UNKNOWN) return d;
      const access = this.ctx.access;
      const saved = { ...access };
      let denied = 0;
      access.create = false;
      access.truncate = false;
      access.read = true; access.write = false;
      if (read && pol.deniedForEveryOpener(this.ctx)) denied |= READ;
      access.read = false; access.write = true;
      if (write && pol.deniedForEveryOpener(this.ctx)) denied |= WRITE;
      Object.assign(access, saved);
      if (denied) {
        table.lock();
        table.addDenial(s, this.epoch, denied, d.errno);
        table.unlock();
      }
      return d;
    }
    if (!table.anyDenial()) return d;
    table.lock();
    const denied = table.deniedBits(s, this.epoch) & bits;
    const errno = table.deniedErrno;
    table.unlock();
    return denied ? sameInode(errno) : d;
  }

  /** One audit line for a read or write of an audited file. */
  auditIo(req: Request, event: 'read' | 'write', fd: number, offset: number, size: number, s = req.nodeid - 1): void {
    let path: string | null = null;
    try {
      path = this.table.reopenedByHandle(s) ? this.lowerPaths.relative(fd, () => this.hintOf(s), true) : this.lowerPaths.relative(fd);
    } catch { /* the fd is gone, or its path cannot be told (null in the line) */ }
    this.audit?.write({ event, pid: req.pid, uid: req.uid, gid: req.gid, path, offset, size, result: size });
  }

  // The state of the decision in progress, for the lazy sources below (bound once, not per open).
  private decidingFd = -1;
  /** The file whose size and first bytes the rules read (the one being opened; for a link's new name, the linked file). */
  private fileFd = -1;
  /** The node being opened (-1 for a create: its fd is the parent directory's). */
  private decidingSlot = -1;
  private decisions = 0;
  private readonly ctx: OpenContext = {
    path: '', type: 'file', uid: 0, gid: 0, pid: 0, size: 0,
    access: { read: false, write: false, create: false, truncate: false },
    // Present from the start: fields added later would change the object's shape at the first decision.
    view: undefined, lazy: undefined,
  };
  private readonly view: PathView = { name: '', top: '', depth: 0 };
  private readonly relPathOfDeciding = (): string => this.lowerPaths.relative(this.decidingFd, this.parentOfDeciding,
    this.decidingSlot >= 0 && this.table.reopenedByHandle(this.decidingSlot));
  private readonly parentOfDeciding = (): ParentHint | null => (this.decidingSlot >= 0 ? this.hintOf(this.decidingSlot) : null);
  /** Where slot s was last looked up, for a path the kernel cannot tell (lowerpath.ts). */
  private hintOf(s: number): ParentHint | null {
    const at = this.paths.lastLookedUp(s);
    // Not a node the kernel holds for this request: pinned only if still the one recorded.
    const dirFd = at ? this.fds.get(at.parent, at.parentGeneration) : -1;
    return dirFd >= 0 ? { dirFd, name: at!.name } : null;
  }
  private readonly lazyCreate: NonNullable<OpenContext['lazy']> = { process: () => this.processOf(this.ctx.pid) };
  private readonly lazyOpen: NonNullable<OpenContext['lazy']> = {
    process: () => this.processOf(this.ctx.pid),
    size: () => (this.sys.fstatat(this.fileFd, EMPTY, AT_EMPTY_PATH, this.st) === 0 ? this.st[St.size] : 0),
    content: (n) => this.firstBytes(this.fileFd, n),
  };

  /** The first `n` bytes of the file behind an O_PATH handle (for content rules). */
  private firstBytes(fd: number, n: number): Uint8Array | undefined {
    const f = this.sys.reopen(fd, O.RDONLY | O.NOATIME | O.CLOEXEC); // the daemon's own read: no access to show
    if (f < 0) return undefined;
    const buf = new Uint8Array(n);
    const got = this.sys.pread(f, buf, 0, n, 0);
    this.sys.close(f);
    return got < 0 ? undefined : buf.subarray(0, got);
  }

  /**
   * The caller's name and executable, cached per pid for a second: a process
   * opening many files pays for the /proc reads once, not per open. The last
   * caller is kept apart: opens come in runs from one process, and the map
   * is more memory to touch.
   */
  private processOf(pid: number): ProcessFacts {
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
  private readonly procCache = new Map<number, { at: number; info: ProcessFacts }>();
  private lastPid = -1;
  // A time, so a double from the start: a small integer here would change
  // the object's layout at the first decision and drop optimized code that
  // uses it (bench/README.md, "Policy cost").
  private lastAt = -Infinity;
  private lastInfo: ProcessFacts = {};
}

/** A policy's mark in the inode table: from its digest, the same in every worker that loaded it. */
function epochOf(p: Policy): number {
  return parseInt(p.digest.slice(0, 7), 16) | 1;
}
