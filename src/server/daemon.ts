// The main thread of a mount: checks its input, mounts, answers INIT, then
// hands the connection to a pool of workers and watches over them. It also
// serves the control socket (status, umount, worker control).
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { spawn } from 'node:child_process';
import { Piscina } from 'piscina';
import { native, St, Sfs } from '../native/index.js';
import { REQUEST_BUFFER, MAX_WRITE } from '../fuse/abi.js';
import { Op } from '../fuse/opcodes.js';
import { Request, Reply } from '../fuse/codec.js';
import { negotiate, Capabilities } from '../fuse/init.js';
import { allocateInodeTable, HANDLE_BYTES, InodeTable } from '../fs/inodes.js';
import { allocateOpenFiles, OpenFiles, type OpenFilesMemory } from '../fs/openfiles.js';
import * as notify from '../fuse/notify.js';
import { NOTIFY_BUFFER } from '../fuse/notify.js';
import { StateFile } from './statefile.js';
import { FD_FUSE, FD_STATE, FD_WORKER, checkHanded, fdStore, fdStoreEnabled, fdStoreRemove, HandoverState, listenFds, mountDir, Successor, FD_GO, waitForGo } from './handover.js';
import { allocatePathMemory, invalidatePaths, PathMemory } from '../fs/paths.js';
import { LowerWatch } from '../fs/watch.js';
import { LowerPaths } from '../fs/lowerpath.js';
import { SlotFds } from '../fs/slotfds.js';
import { O, AT_FDCWD, AT_EMPTY_PATH, MNT_DETACH, E, MS_NOATIME, MS_NODIRATIME, MS_STRICTATIME } from '../native/linux.js';
import { allocateStats, summarize } from './stats.js';
import type { DaemonStatus, OpenFileStatus, PolicyStatus } from './status.js';
import { C, MAX_RULES } from '../io/counters.js';
import { ControlServer } from './control.js';
import { parseListen, serveMetrics } from './metrics.js';
import type { Server } from 'node:http';
import { FSTYPE, isMountpoint, mountAt } from './mounts.js';
import type { WorkerTask, WorkerResult } from './worker.js';
import { loadPolicyFile, Policy, PolicyError, processInfo } from '../policy/index.js';
import { AuditFailure, checkAuditDest, openAuditFile, removeAuditFile } from './audit.js';
import { IoMode } from '../fs/inodes.js';
import { PinMode, shouldPin } from './pinning.js';
import { Level, Log, makeLogger } from './logging.js';
import { underJournal } from './systemd.js';
import { MountRequest, mountFlags, flagNames, lowerAtime } from '../fs/mountflags.js';

export class UserError extends Error {}

export interface DaemonOptions {
  lower: string;
  mountpoint: string;
  io: 'passthrough' | 'mediated';
  workers: number;
  allowOther: boolean;
  /** Entry and attribute timeout in milliseconds. */
  /** Entry and attribute timeout; null: long with the watch on, short without (README, "Caching"). */
  validMs: number | null;
  /** Watch LOWER for changes made beside the mount (fs/watch.ts). */
  watch: boolean;
  maxInodes: number;
  /** FUSE-over-io_uring when the kernel offers it (auto), always (uring), never (devfuse). */
  transport: 'auto' | 'uring' | 'devfuse';
  mediated: 'sync' | 'async';
  /** Ring entries per queue, and the payload buffer of each. */
  queueDepth: number;
  payloadSize: number;
  /** Keep io_uring workers on their queues' CPUs (src/server/pinning.ts). */
  pin: PinMode;
  /** A successor started by a running daemon: called once it is loaded and waits to take over. */
  onStandby?: () => void;
  /** The `passfs mount` arguments this daemon runs with: a successor (restart) gets the same. */
  argv?: string[];
  /** What the daemon logs (--log-level); debug also traces every request. */
  logLevel?: Level;
  /** Per-file policy (replaces --io's mount-wide choice), the audit destination ('-' = stdout). */
  policy: string | null;
  audit: string | null;
  /** --metrics HOST:PORT: the status counters for Prometheus (metrics.ts); null: off. */
  metrics?: string | null;
  auditFailure: AuditFailure;
  /** Mode of an audit file the daemon creates. */
  auditMode: number;
  /** What the mount allows beyond its nosuid,nodev defaults, or forbids besides (fs/mountflags.ts). */
  mountOptions: MountRequest;
}

/** What preflight found: the policy (loaded once) and the mount(2) flags. */
export interface Preflight {
  policy: Policy | null;
  mountFlags: number;
}

interface Slot {
  index: number;
  fd: number;
  /** The main thread's end of the worker's message port (policy reloads). */
  port: import('node:worker_threads').MessagePort | null;
  threadId: number;
  /** The worker's kernel thread id, and whether it took over a dead worker's io_uring queues. */
  tid: number;
  adopted: boolean;
  restarts: number;
  running: boolean;
}

const MAIN_LOCK_OWNER = 0x7fff;
/** How long a handover waits for the workers to answer the requests they began. */
const DRAIN_TIMEOUT_MS = 10_000;
const ATIME_FLAGS = MS_NOATIME | MS_NODIRATIME | MS_STRICTATIME;
/** Open files listed by status at most (each costs a readlink, perhaps a reopen by handle). */
const OPEN_FILES_LISTED = 1000;
export const URING_PARAM = '/sys/module/fuse/parameters/enable_uring';

/** The kernel's global switch for FUSE over io_uring (passfs never changes it). */
export function uringEnabled(): boolean {
  try {
    return fs.readFileSync(URING_PARAM, 'utf8').trim() === 'Y';
  } catch {
    return false;
  }
}

/** FUSE-over-io_uring queue ids: one per possible CPU. */
function possibleCpus(): number {
  try {
    const s = fs.readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
    return Math.max(...s.split(',').map((r) => Number(r.split('-').pop()))) + 1;
  } catch {
    return os.cpus().length;
  }
}
const here = path.dirname(fileURLToPath(import.meta.url));

const mainLogger = (level: Level) => makeLogger('passfs', level, underJournal(), (line) => process.stderr.write(line));
let logger = mainLogger('info');
/** The main thread's log (stderr: the journal, or the log file of a background daemon), rate-limited (logging.ts). */
export const log: Log = (msg, level) => logger.log(msg, level);
/** Log at `level` and above from now on (--log-level). */
export function setLogLevel(level: Level): void {
  logger = mainLogger(level);
}

/**
 * Remove the mount at `p` if it is a passfs mount nobody serves (it answers
 * ENOTCONN): the one thing a start changes before it is sure to go ahead.
 * Returns whether it did.
 */
function removeDeadMount(p: string): boolean {
  const abs = path.resolve(p);
  let real: string;
  try {
    real = path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs));
  } catch {
    return false;
  }
  if (mountAt(real)?.fstype !== FSTYPE) return false;
  // Dead: nobody answers (the kernel may still answer a stat of the root from its cache, not a listing).
  try {
    fs.readdirSync(real);
    return false;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOTCONN') return false;
  }
  if (native.umount2(real, MNT_DETACH) < 0) return false;
  log(`${real}: removed the mount of a passfs daemon that died`, 'warn');
  return true;
}

/**
 * Validate what we can before touching anything; every failure is one clear
 * line. Returns the policy, loaded here (once) so that a start refused for
 * it has created nothing: no audit log, no log file of a background start.
 */
export function preflight(o: DaemonOptions, takeover = false): Preflight {
  if (process.getuid?.() !== 0) throw new UserError('passfs must run as root (it mounts and registers backing files)');
  if (!fs.existsSync('/dev/fuse')) throw new UserError('/dev/fuse is missing: load the fuse module (modprobe fuse)');
  // Taking a mount over, the mount point is the mount itself, which nobody serves meanwhile: not to be touched.
  if (takeover) return preflightRest(o, fs.realpathSync(o.lower), path.resolve(o.mountpoint));
  const dirCheck = (what: string, p: string) => {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOTCONN') {
        // A passfs mount whose daemon died (killed, say): removed, so that a restart works in one step.
        if (what === 'mount point' && removeDeadMount(p)) return dirCheck(what, p);
        throw new UserError(`${what} ${p} is the mount of a daemon that died: passfs umount it first`);
      }
      throw new UserError(`${what} ${p} does not exist`);
    }
    if (!st.isDirectory()) throw new UserError(`${what} ${p} is not a directory`);
  };
  dirCheck('lower directory', o.lower);
  dirCheck('mount point', o.mountpoint);
  if (isMountpoint(o.mountpoint) && fs.realpathSync(o.mountpoint) !== '/' && !removeDeadMount(o.mountpoint)) {
    throw new UserError(`mount point ${o.mountpoint} is already mounted`);
  }
  return preflightRest(o, fs.realpathSync(o.lower), fs.realpathSync(o.mountpoint));
}

/** What preflight checks beyond the mount point itself. */
function preflightRest(o: DaemonOptions, lower: string, mnt: string): Preflight {
  if (mnt === lower || mnt.startsWith(lower + '/') || lower.startsWith(mnt + '/')) {
    throw new UserError(`mount point ${o.mountpoint} and lower directory ${o.lower} must not contain each other`);
  }
  if (!Number.isInteger(o.workers) || o.workers < 1 || o.workers > 64) throw new UserError('--workers must be an integer from 1 to 64');
  const flags = mountFlags(o.mountOptions, lowerMountFlags(lower), lower);
  if ('error' in flags) throw new UserError(flags.error);
  let policy: Policy | null = null;
  if (o.policy) {
    try {
      policy = loadPolicyFile(o.policy);
    } catch (e) {
      throw new UserError((e as Error).message);
    }
  }
  if (o.metrics) {
    try {
      parseListen(o.metrics);
    } catch (e) {
      throw new UserError((e as Error).message);
    }
  }
  if (o.audit && !o.policy) throw new UserError('--audit needs --policy: the audit trail records the policy\'s decisions (and its audited reads and writes)');
  if (o.audit) {
    const err = checkAuditDest(o.audit);
    if (err) throw new UserError(err);
  }
  if (o.transport === 'uring' && !uringEnabled()) {
    throw new UserError(`--transport uring: FUSE over io_uring is off in this kernel (enable it with: echo Y > ${URING_PARAM})`);
  }
  return { policy, mountFlags: flags.flags };
}

/** The flags (ST_NOSUID, ST_NOEXEC...) of the mount the directory `dir` lives on. */
function lowerMountFlags(dir: string): number {
  const fd = native.openat2(AT_FDCWD, dir, O.PATH | O.DIRECTORY | O.CLOEXEC, 0, 0);
  if (fd < 0) throw new UserError(`cannot open lower directory ${dir}: ${native.errnoName(-fd)}`);
  const sfs = new Float64Array(Sfs.LENGTH);
  const r = native.fstatfs(fd, sfs);
  native.close(fd);
  if (r < 0) throw new UserError(`statfs of lower directory ${dir}: ${native.errnoName(-r)}`);
  return sfs[Sfs.flags];
}

/** Entry and attribute timeouts: long while the watch tells the kernel of changes beside the mount, short without it. */
export const LONG_TIMEOUT_MS = 86_400_000;
export const SHORT_TIMEOUT_MS = 1000;

export class Daemon {
  readonly startedAt = new Date();
  private readonly statsMem: SharedArrayBuffer;
  private readonly inodesMem;
  private readonly filesMem: OpenFilesMemory;
  /** 0 for the daemon that mounted; a successor's is one more than its predecessor's (handover.ts). */
  generation = 0;
  mountedAt = new Date().toISOString();
  /** A successor: from whom and when it took over, and how long requests waited meanwhile. */
  takeover: { fromPid: number; at: string; reopenedFiles: number; failedFiles: number; lostInodes: number; resent: boolean } | null = null;
  /** Remembered paths for the policy (src/fs/paths.ts), only with one. */
  private readonly pathsMem: PathMemory | null;
  private readonly table: InodeTable;
  private readonly slots: Slot[] = [];
  private pool!: Piscina;
  private control!: ControlServer;
  private stopping = false;
  private ended!: Promise<void>;
  private endResolve!: () => void;
  private running = 0;
  caps!: Capabilities;
  /** The running policy (reload replaces it only with a valid one). */
  policy: Policy | null = null;
  private policyLoadedAt: Date | null = null;
  /** Paths of open files, for status (made at the first status). */
  private lowerPaths: LowerPaths | null = null;
  private slotFds: SlotFds | null = null;
  private metrics: Server | null = null;
  /** LOWER's path as the kernel names the daemon's files: '' when they are reached through a private clone (lowerpath.ts). */
  private get lowerRoot(): string { return lowerAtime(this.mountFlags) ? '' : this.lower; }

  private constructor(
    readonly opt: DaemonOptions,
    readonly lower: string,
    readonly mountpoint: string,
    private readonly rootFd: number,
    private readonly devFd: number,
    /** mount(2) flags of the passfs mount (fs/mountflags.ts). */
    readonly mountFlags: number,
    /** The state a successor takes over (statefile.ts, handover.ts): the table lives in it. */
    private readonly state: StateFile,
  ) {
    this.statsMem = allocateStats(opt.workers);
    this.inodesMem = allocateInodeTable(state.capacity, state.allocate);
    this.filesMem = allocateOpenFiles(state.capacity, state.allocate);
    this.pathsMem = opt.policy ? allocatePathMemory(opt.maxInodes) : null;
    this.table = new InodeTable(this.inodesMem, MAIN_LOCK_OWNER);
    this.ended = new Promise((r) => (this.endResolve = r));
  }

  /** Mount and start serving. Resolves once the mount is live and every worker is up. */
  static async start(opt: DaemonOptions): Promise<Daemon> {
    if (opt.logLevel) setLogLevel(opt.logLevel);
    // Descriptors handed over (a restart, or systemd's fd store after a crash): take the mount over instead.
    const handed = listenFds();
    if (handed) return Daemon.takeOver(opt, handed);
    const { policy, mountFlags } = preflight(opt);
    const lower = fs.realpathSync(opt.lower);
    const mountpoint = fs.realpathSync(opt.mountpoint);
    native.umask(0); // the workers take each caller's umask for its creates (fs/creds.ts)
    native.raiseNofile(1 << 20);
    // An access-time rule of its own: LOWER is reached through a private clone of its mount with that rule (fs/mountflags.ts).
    const atime = lowerAtime(mountFlags);
    const rootFd = atime ? native.openTreeClone(lower, atime.set, atime.clear) : native.openat2(AT_FDCWD, lower, O.PATH | O.DIRECTORY | O.CLOEXEC, 0, 0);
    if (rootFd < 0) {
      throw new UserError(atime ? `cannot clone the mount of ${lower} for ${flagNames(mountFlags & ATIME_FLAGS)}: ${native.errnoName(-rootFd)}`
        : `cannot open lower directory ${lower}: ${native.errnoName(-rootFd)}`);
    }
    const devFd = native.devOpen();
    if (devFd < 0) {
      native.close(rootFd);
      throw new UserError(`cannot open /dev/fuse: ${native.errnoName(-devFd)}`);
    }
    let state: StateFile;
    try {
      state = StateFile.create(opt.maxInodes);
    } catch (e) {
      native.close(rootFd);
      native.close(devFd);
      throw new UserError((e as Error).message);
    }
    const d = new Daemon(opt, lower, mountpoint, rootFd, devFd, mountFlags, state);
    if (policy) {
      d.policy = policy;
      d.policyLoadedAt = new Date();
    }
    try {
      d.openAudit();
      d.mount();
      d.saveState();
      d.openWatch();
      await d.startWorkers();
      await d.listen();
      d.storeFds();
    } catch (e) {
      await d.abortStart();
      throw e;
    }
    return d;
  }

  /** The control socket and the metrics (again, after a handover that failed). */
  private async listen(): Promise<void> {
    this.control = new ControlServer(this.mountpoint, (cmd) => this.command(cmd));
    await this.control.listen();
    if (this.opt.metrics) this.metrics = await serveMetrics(this.opt.metrics, () => this.status());
  }

  /**
   * Take over the mount of the process before (handover.ts): its connection
   * and state file in `handed`. Nothing is mounted and no INIT is answered;
   * the table's descriptors are rebuilt; requests the process before had
   * read and not answered are sent again by the kernel.
   */
  private static async takeOver(opt: DaemonOptions, handed: Map<string, number[]>): Promise<Daemon> {
    const devFd = handed.get(FD_FUSE)![0];
    const stateFd = handed.get(FD_STATE)![0];
    const why = checkHanded(devFd, stateFd);
    if (why) throw new UserError(`cannot take the mount over: ${why}`);
    const oldClones = [...handed].filter(([name]) => name.startsWith(FD_WORKER));
    native.umask(0);
    native.raiseNofile(1 << 20);
    let state: StateFile;
    let hs: HandoverState;
    try {
      state = StateFile.adopt(stateFd);
      hs = state.read<HandoverState>();
    } catch (e) {
      throw new UserError(`cannot take the mount over: ${(e as Error).message}`);
    }
    if (hs.caps.uring) throw new UserError('cannot take the mount over: it was mounted with FUSE over io_uring, whose queues cannot be handed over');
    // The paths the mount was made with (canonical: the control socket is named after the mount point).
    const lower = hs.lower;
    const mountpoint = hs.mountpoint;
    if (fs.realpathSync(opt.lower) !== lower) throw new UserError(`cannot take the mount over: it mirrors ${lower}, not ${opt.lower}`);
    const { policy, mountFlags } = preflight({ ...opt, lower, mountpoint }, true);
    const atime = lowerAtime(mountFlags);
    const rootFd = atime ? native.openTreeClone(lower, atime.set, atime.clear) : native.openat2(AT_FDCWD, lower, O.PATH | O.DIRECTORY | O.CLOEXEC, 0, 0);
    if (rootFd < 0) throw new UserError(`cannot open lower directory ${lower}: ${native.errnoName(-rootFd)}`);
    const d = new Daemon(opt, lower, mountpoint, rootFd, devFd, mountFlags, state);
    d.handedOver = true;
    d.control = new ControlServer(mountpoint, (cmd) => d.command(cmd));
    if (policy) {
      d.policy = policy;
      d.policyLoadedAt = new Date();
    }
    d.caps = hs.caps;
    d.transport = 'devfuse';
    d.generation = hs.generation + 1;
    d.mountedAt = hs.mountedAt;
    const go = handed.get(FD_GO)?.[0];
    try {
      d.openAudit();
      if (go !== undefined) {
        // Started by a running daemon (passfs restart): load everything while it serves, then wait for it to stop.
        await d.warmWorkers();
        opt.onStandby?.();
        await waitForGo(go);
        // Its state as it left it (a successor started before it stopped read an older header).
        hs = state.read<HandoverState>();
      }
      d.rebase(hs);
      // Requests the process before read and did not answer (still on its clones, kept in the fd store): queued
      // again, before any worker of ours reads (the kernel would send ours again too, and they would be done twice).
      const buf = new Uint8Array(NOTIFY_BUFFER);
      const resent = oldClones.length > 0 && native.write(devFd, buf, 0, notify.resend(new DataView(buf.buffer))) >= 0;
      for (const [name, fds] of oldClones) {
        fdStoreRemove(name);
        for (const fd of fds) native.close(fd);
      }
      // The watch's group now (the workers mark directories in it as they reopen them), its reading and
      // telling the kernel once requests flow again (a notification can wait on a lock a request not yet read holds).
      d.openWatch(false);
      // What can fail, before any worker reads a request: a failure up to here leaves the requests queued for the daemon
      // before (it takes the mount back, handover()); after, they would fail with this process.
      await d.control.listen();
      if (process.env.PASSFS_FAULT === 'after-go') throw new UserError('PASSFS_FAULT=after-go: failing on purpose (a drill)');
      await d.startWorkers();
      d.watch?.start();
      // Changes beside the mount while nobody watched: every cached entry is stale.
      if (d.caps.minor >= 44) native.write(devFd, buf, 0, notify.incEpoch(new DataView(buf.buffer)));
      d.takeover = { fromPid: hs.pid, at: new Date().toISOString(), reopenedFiles: d.reopened.reopened, failedFiles: d.reopened.failed, lostInodes: d.reopened.lost, resent };
      d.saveState();
      if (opt.metrics) d.metrics = await serveMetrics(opt.metrics, () => d.status()).catch((e: Error) => { log(`metrics: ${e.message}`, 'error'); return null; });
      d.storeFds();
    } catch (e) {
      await d.abortStart();
      throw e;
    }
    log(`took the mount over from pid ${hs.pid} (generation ${d.generation}): ${d.reopened.reopened} open files reopened${d.reopened.failed ? `, ${d.reopened.failed} could not be (they answer EBADF)` : ''}${d.reopened.lost ? `, ${d.reopened.lost} inodes without a file handle (they answer ESTALE)` : ''}`, d.reopened.failed || d.reopened.lost ? 'warn' : 'info');
    return d;
  }

  /** Set by takeOver: this process did not mount, and must never unmount on a failed start. */
  private handedOver = false;
  private reopened = { reopened: 0, failed: 0, lost: 0 };

  /** A successor's table and open files: the process before's descriptors replaced by this one's. */
  private rebase(hs: HandoverState): void {
    const nofile = native.raiseNofile(0);
    const rootDir = () => native.reopen(this.rootFd, O.RDONLY | O.DIRECTORY | O.CLOEXEC);
    const rootId = this.rootMountId();
    const lost = this.table.rebase(this.rootFd, (id) => ({ fd: mountDir(id, hs.rootMountId, rootDir), id: id === hs.rootMountId ? rootId : id }), nofile - 256);
    const files = new OpenFiles(this.filesMem, this.table);
    const fds = (this.slotFds ??= new SlotFds(native, this.table));
    const r = files.rebase((slot, flags) => {
      const pfd = fds.get(slot);
      try {
        return pfd < 0 ? pfd : native.reopen(pfd, flags);
      } finally {
        fds.done();
      }
    });
    this.table.setHeld(files.live());
    this.reopened = { ...r, lost };
  }

  /** The mount id of the lower root's mount, as this process sees it (its handles name it). */
  private rootMountId(): number {
    const h = new Uint8Array(HANDLE_BYTES);
    return native.nameToHandle(this.rootFd, h, 0, HANDLE_BYTES) > 0 ? new Int32Array(h.buffer, 0, 2)[1] : -1;
  }

  /** What a successor needs to know, in the state file's header. */
  private saveState(): void {
    const rootMountId = this.rootMountId();
    const s: HandoverState = {
      caps: this.caps, generation: this.generation, mountedAt: this.mountedAt, validMs: this.validMs, rootMountId,
      pid: process.pid, workers: this.opt.workers, lower: this.lower, mountpoint: this.mountpoint,
    };
    this.state.write(s);
  }

  /** Under systemd with an fd store: the connection and the state, so that a crash is recovered by a successor (handover.ts). */
  private storeFds(): void {
    // FUSE over io_uring: a successor could not serve the queues (handover.ts), so there is nothing to keep.
    if (this.transport !== 'devfuse') return;
    // The connection and the state stay in the store from the first daemon on; each daemon stores its own clones.
    if (this.generation === 0 && !(fdStore(FD_FUSE, this.devFd) && fdStore(FD_STATE, this.state.fd))) return;
    this.fdStored = fdStoreEnabled();
    if (!this.fdStored) return;
    for (const s of this.slots) {
      if (s.fd < 0) continue;
      fdStoreRemove(`${FD_WORKER}${s.index}`);
      fdStore(`${FD_WORKER}${s.index}`, s.fd);
    }
  }
  private fdStored = false;

  private mount(): void {
    const { opt, devFd } = this;
    const st = new Float64Array(St.LENGTH);
    native.fstatat(this.rootFd, '', AT_EMPTY_PATH, st);
    // Inodes hold descriptors only while cached (fs/inodes.ts): the table and
    // the open files share the file limit, less 256 for sockets, rings and the rest.
    const nofile = native.raiseNofile(0); // asks for nothing more: the limit in force
    this.table.init(this.rootFd, st[St.dev], st[St.ino], this.table.capacity, nofile - 256);
    const data = [`fd=${devFd}`, 'rootmode=40000', 'user_id=0', 'group_id=0', 'default_permissions'];
    if (opt.allowOther) data.push('allow_other');
    // The lower directory is the source, as /proc/mounts and df show it (the type says it is passfs).
    const r = native.mount(this.lower, this.mountpoint, FSTYPE, this.mountFlags, data.join(','));
    if (r < 0) throw new UserError(`mount ${this.mountpoint}: ${native.errnoName(-r)}`);
    this.mounted = true;
    // The first request is always INIT; answer it here, before any worker exists.
    const req = new Request(new Uint8Array(REQUEST_BUFFER));
    const rep = new Reply(64 * 1024);
    const n = native.read(devFd, req.buf, 0, req.buf.length);
    if (n < 0) throw new UserError(`reading INIT: ${native.errnoName(-n)}`);
    req.load();
    if (req.opcode !== Op.INIT) throw new UserError(`expected INIT, got opcode ${req.opcode}`);
    const { len, caps } = negotiate(req, rep, {
      passthrough: opt.io === 'passthrough' || opt.policy !== null,
      uring: opt.transport !== 'devfuse',
      maxBackground: opt.mediated === 'async' ? 256 : 64,
      maxWrite: opt.transport === 'devfuse' ? MAX_WRITE : opt.payloadSize,
    });
    this.caps = caps;
    const w = native.write(devFd, rep.buf, 0, len);
    if (w < 0) throw new UserError(`replying to INIT: ${native.errnoName(-w)}`);
    if (opt.io === 'passthrough' && !caps.passthrough) {
      log('this kernel does not offer FUSE passthrough: every file is served mediated', 'warn');
    }
    if (opt.transport === 'uring' && !caps.uring) throw new UserError('the kernel did not agree to FUSE over io_uring');
    this.transport = caps.uring ? 'uring' : 'devfuse';
    if (opt.transport === 'auto') log(`transport: ${this.transport}${caps.uring ? '' : ` (FUSE over io_uring is off; ${URING_PARAM})`}`);
  }

  /** The audit file every worker appends to (-1: none, or stdout), and whether this start created it. */
  private auditFd = -1;
  private auditCreated: { dev: number; ino: number } | null = null;

  private openAudit(): void {
    const dest = this.opt.audit;
    if (!dest || dest === '-') return;
    try {
      const a = openAuditFile(dest, this.opt.auditMode);
      this.auditFd = a.fd;
      this.auditCreated = a.created;
    } catch (e) {
      throw new UserError((e as Error).message);
    }
  }

  private mounted = false;
  transport: 'uring' | 'devfuse' = 'devfuse';
  private watch: LowerWatch | null = null;
  private watchOff: string | null = null;
  /** The entry and attribute timeout in force (DaemonOptions.validMs, or its default). */
  validMs = SHORT_TIMEOUT_MS;

  /** The lower directory's watch, and the timeouts it allows. */
  private openWatch(start = true): void {
    if (this.opt.watch) {
      const paths = this.pathsMem;
      const w = LowerWatch.open(this.devFd, this.rootFd, this.table, () => paths && invalidatePaths(paths), log);
      if (typeof w === 'string') {
        this.watchOff = w;
        log(`cannot watch the lower directory (${w}): changes made beside the mount are seen after the timeouts, which stay short`, 'warn');
      } else {
        this.watch = w;
        if (start) w.start();
      }
    } else {
      this.watchOff = 'turned off (--watch off)';
    }
    // Long timeouts only where lost events can be answered (FUSE_NOTIFY_INC_EPOCH, protocol 7.44).
    const epochs = this.caps.minor >= 44;
    if (this.watch && !epochs) log(`the kernel speaks FUSE 7.${this.caps.minor} (no INC_EPOCH): timeouts stay short although the watch is on`, 'warn');
    this.validMs = this.opt.validMs ?? (this.watch && epochs ? LONG_TIMEOUT_MS : SHORT_TIMEOUT_MS);
  }

  /** io_uring workers stay on their queues' CPUs (see pinning.ts for when). */
  private get pinned(): boolean {
    const onlyPassthrough = this.opt.io === 'passthrough' && !this.policy && this.caps.passthrough;
    return this.transport === 'uring' && shouldPin(this.opt.pin, onlyPassthrough);
  }

  /** Start the worker threads and have each load its code, serving nothing yet (a successor on standby). */
  private async warmWorkers(): Promise<void> {
    this.createPool();
    await Promise.all(Array.from({ length: this.opt.workers }, () => this.pool.run({ warm: true })));
  }

  private createPool(): void {
    this.pool = new Piscina({
      filename: path.join(here, 'worker.js'),
      minThreads: this.opt.workers,
      maxThreads: this.opt.workers,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: 1,
      maxQueue: 0,
    });
  }

  private async startWorkers(): Promise<void> {
    const n = this.opt.workers;
    if (!this.pool) this.createPool();
    const started: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      this.slots.push({ index: i, fd: -1, port: null, threadId: 0, tid: 0, adopted: false, restarts: 0, running: false });
      started.push(this.launch(i));
    }
    await Promise.all(started);
  }

  /** Start (or restart) worker `i` with a fresh clone of the device fd. Resolves once it is serving. */
  private launch(i: number): Promise<void> {
    const slot = this.slots[i];
    const fd = native.devClone(this.devFd);
    if (fd < 0) return Promise.reject(new UserError(`cloning /dev/fuse: ${native.errnoName(-fd)}`));
    slot.fd = fd;
    if (this.fdStored) {
      fdStoreRemove(`${FD_WORKER}${i}`);
      fdStore(`${FD_WORKER}${i}`, fd);
    }
    const { port1, port2 } = new MessageChannel();
    slot.port?.close();
    slot.port = port1;
    const task: WorkerTask = {
      index: i,
      fd,
      inodes: this.inodesMem,
      files: this.filesMem,
      paths: this.pathsMem,
      stats: this.statsMem,
      io: this.opt.io,
      passthrough: this.caps.passthrough,
      validMs: this.validMs,
      watchFd: this.watch?.fd ?? -1,
      mediated: this.opt.mediated,
      queues: this.transport === 'uring' ? this.queuesOf(i) : [],
      queueDepth: this.opt.queueDepth,
      payloadSize: this.opt.payloadSize,
      pin: this.pinned,
      lowerRoot: this.lowerRoot,
      mountFlags: this.mountFlags,
      policy: this.policy ? { text: this.policy.text, file: this.policy.file } : null,
      audit: this.opt.audit ? { dest: this.opt.audit, fd: this.auditFd, onFailure: this.opt.auditFailure } : null,
      logLevel: this.opt.logLevel ?? 'info',
      journal: underJournal(),
      port: port2,
    };
    return new Promise((ready) => {
      port1.once('message', (m: { threadId: number; tid: number; adopted: boolean }) => {
        slot.threadId = m.threadId;
        slot.tid = m.tid;
        slot.adopted = m.adopted;
        slot.running = true;
        if (slot.restarts > 0) this.kickQueues(task.queues);
        ready();
      });
      port1.unref();
      this.running++;
      this.pool.run(task, { transferList: [port2 as never] }).then(
        (_r: WorkerResult) => this.workerEnded(slot, null),
        (e: Error) => this.workerEnded(slot, e),
      );
    });
  }

  /** The FUSE-over-io_uring queues worker `i` serves: every queue, dealt round-robin. */
  private queuesOf(i: number): number[] {
    const q: number[] = [];
    for (let c = i; c < possibleCpus(); c += this.opt.workers) q.push(c);
    return q;
  }

  /**
   * Requests that arrived while a queue had no registered entry wait in the
   * kernel's per-queue list until a new request arrives on that queue's CPU;
   * registering fresh entries does not pick them up. After a replacement
   * worker registers, send one harmless request (a lookup of a name that does
   * not exist) from each of its queues' CPUs so the backlog is served.
   */
  private kickQueues(queues: number[]): void {
    for (const q of queues) {
      const name = path.join(this.mountpoint, `.passfs-kick-${process.pid}-${Date.now()}-${q}`);
      spawn('taskset', ['-c', String(q), 'stat', name], { stdio: 'ignore' }).on('error', () => {});
    }
  }

  private workerEnded(slot: Slot, err: Error | null): void {
    slot.running = false;
    this.running--;
    // Requests this worker had taken but not answered end with ECONNABORTED
    // once its fd is closed (and out of the fd store, which would keep it open); nothing is left hanging.
    if (this.fdStored) fdStoreRemove(`${FD_WORKER}${slot.index}`);
    native.close(slot.fd);
    slot.fd = -1;
    if (this.table.breakLock(slot.index + 1)) log(`worker ${slot.index} died holding the inode table lock; released`, 'warn');
    if (this.drained) {
      // Handing over: the worker stopped taking requests and answered the ones it had begun.
      if (this.running === 0) this.drained();
      return;
    }
    if (err && !this.stopping) {
      slot.restarts++;
      log(`worker ${slot.index} ended (${err.message}); starting a replacement`, 'error');
      this.launch(slot.index).catch((e) => log(`cannot restart worker ${slot.index}: ${e.message}`, 'error'));
      return;
    }
    // A worker ends cleanly when the connection is gone (unmount): so do we.
    this.stopping = true;
    if (this.running === 0) this.endResolve();
  }

  /** Resolves when the file system has been unmounted, or handed to a successor (its pid), and every worker has finished. */
  async wait(): Promise<{ successor: number | null }> {
    await this.ended;
    await this.cleanup();
    return { successor: this.successor };
  }

  /** Set while workers drain for a handover: called when the last has ended. */
  private drained: (() => void) | null = null;
  /** The process the mount was handed to; set while one is being started. */
  private successor: number | null = null;
  private handing = false;

  /**
   * `passfs restart` (handover.ts): stop taking requests, answer those begun,
   * start a successor on this connection and state, and end once it serves
   * (`argv`: this process's mount arguments, for it). If it fails, serve again.
   */
  private async handover(argv: string[]): Promise<{ ok: boolean; pid?: number; pausedMs?: number; error?: string }> {
    if (this.transport !== 'devfuse') {
      return { ok: false, error: 'this mount serves FUSE over io_uring, whose queues cannot be handed over (the kernel cannot take a ring\'s entries back): mount it with --transport devfuse to restart it in place' };
    }
    if (this.stopping || this.drained || this.successor || this.handing) return { ok: false, error: 'the daemon is stopping or already handing over' };
    // The successor loads while this daemon serves on; only then are requests held.
    this.handing = true;
    this.saveState();
    const next = Successor.start(argv, this.devFd, this.state.fd);
    const standby = await next.next();
    if (standby !== 'standby') {
      this.handing = false;
      await next.kill();
      log(`restart failed, serving on: ${standby.replace(/^error: /, '')}`, 'error');
      return { ok: false, error: standby.replace(/^error: /, '') };
    }
    const t0 = performance.now();
    // Nothing tells the kernel anything while nobody serves (a notification can wait on a lock held by a request not read).
    this.watch?.close();
    this.watch = null;
    const allEnded = new Promise<void>((r) => (this.drained = r));
    if (this.running === 0) this.drained!();
    for (const s of this.slots) s.port?.postMessage({ drain: true });
    // A worker stuck in a system call does not hold the mount forever: its request fails (ECONNABORTED) when this process ends.
    const stuck = await Promise.race([allEnded.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), DRAIN_TIMEOUT_MS).unref())]);
    if (stuck) log(`handover: ${this.running} worker(s) did not finish their requests within ${DRAIN_TIMEOUT_MS / 1000} s: those requests fail`, 'warn');
    log(`handover: workers stopped after ${Math.round(performance.now() - t0)} ms`, 'debug');
    // The successor listens where this one does.
    this.metrics?.close();
    this.metrics = null;
    this.control.stopListening();
    this.saveState();
    next.go();
    const answer = await next.next();
    this.handing = false;
    if (answer !== 'ok') {
      const error = answer.replace(/^error: /, '');
      log(`restart failed after the successor began taking over, serving on: ${error}`, 'error');
      await next.kill();
      await this.resume();
      return { ok: false, error };
    }
    const pausedMs = Math.round(performance.now() - t0);
    next.release();
    log(`handed the mount to pid ${next.pid} (requests waited ${pausedMs} ms)`);
    this.successor = next.pid;
    this.stopping = true;
    // Ended once the answer to `passfs restart` has left (ending cuts the control socket's clients off).
    setTimeout(() => this.endResolve(), 100);
    return { ok: true, pid: next.pid, pausedMs };
  }

  /**
   * A successor that failed once told to go (and is gone now) may have
   * rebuilt the shared state with its own descriptors: this daemon takes
   * the mount over again, as a successor would (rebase with its own), then
   * serves as before.
   */
  private async resume(): Promise<void> {
    this.drained = null;
    this.rebase(this.state.read<HandoverState>());
    this.saveState();
    const buf = new Uint8Array(NOTIFY_BUFFER);
    await Promise.all(this.slots.filter((s) => !s.running).map((s) => this.launch(s.index)));
    this.openWatch();
    if (this.caps.minor >= 44) native.write(this.devFd, buf, 0, notify.incEpoch(new DataView(buf.buffer)));
    try {
      await this.control.listen();
    } catch (e) {
      log(`cannot listen on the control socket again: ${(e as Error).message}`, 'error');
    }
    if (this.opt.metrics) this.metrics = await serveMetrics(this.opt.metrics, () => this.status()).catch(() => null);
  }

  private cleanedUp = false;
  private async cleanup(): Promise<void> {
    if (this.cleanedUp) return;
    this.cleanedUp = true;
    this.metrics?.close();
    await this.control?.close();
    await this.pool?.destroy();
    this.watch?.close();
    native.close(this.devFd);
    native.close(this.rootFd);
    if (this.auditFd >= 0) native.close(this.auditFd);
  }

  /** Unmount. When the mount is busy, detach it: it keeps serving open files until they close. */
  unmount(): { ok: boolean; lazy: boolean; pid: number; error?: string } {
    const pid = process.pid;
    // Only ever this daemon's own mount: umount(2) takes the top one at the path.
    const top = mountAt(this.mountpoint);
    if (top && (top.fstype !== FSTYPE || top.source !== this.lower)) {
      return { ok: false, lazy: false, pid, error: `${top.fstype} ${top.source} is mounted on top of the passfs mount: unmount that first` };
    }
    this.stopping = true;
    let r = native.umount2(this.mountpoint, 0);
    if (r === -E.BUSY) {
      r = native.umount2(this.mountpoint, MNT_DETACH);
      if (r === 0) {
        log(`${this.mountpoint} is busy: detached; serving open files until they are closed`);
        return { ok: true, lazy: true, pid };
      }
    }
    if (r < 0 && r !== -E.INVAL) return { ok: false, lazy: false, pid, error: native.errnoName(-r) };
    return { ok: true, lazy: false, pid };
  }

  private async abortStart(): Promise<void> {
    this.stopping = true;
    if (this.mounted && !this.handedOver) native.umount2(this.mountpoint, MNT_DETACH);
    const stopped = this.pool?.destroy();
    this.watch?.close();
    this.watch = null;
    for (const s of this.slots) if (s.fd >= 0) native.close(s.fd);
    native.close(this.devFd);
    native.close(this.rootFd);
    // The audit fd only once no worker can write to it any more (its number could be reused meanwhile).
    try {
      await stopped;
    } catch { /* the workers are gone either way */ }
    if (this.auditFd >= 0) {
      native.close(this.auditFd);
      this.auditFd = -1;
      // A start that failed leaves no audit file it created behind.
      if (this.auditCreated && this.opt.audit) removeAuditFile(this.opt.audit, this.auditCreated);
    }
  }

  status(): DaemonStatus {
    const { watchMarkFailures, ...sum } = summarize(this.statsMem, native.errnoName);
    return {
      version: 1,
      pid: process.pid,
      generation: this.generation,
      mountedAt: this.mountedAt,
      takeover: this.takeover,
      fdStore: this.fdStored,
      lower: this.lower,
      mountpoint: this.mountpoint,
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      io: this.opt.io,
      mountOptions: flagNames(this.mountFlags),
      timeoutMs: this.validMs,
      watch: this.watch ? { on: true, ...this.watch.counts, markFailures: watchMarkFailures } : { on: false, why: this.watchOff ?? '' },
      transport: this.transport,
      mediatedEngine: this.opt.mediated,
      uring: this.transport === 'uring' ? { queues: possibleCpus(), queueDepth: this.opt.queueDepth, payloadSize: this.opt.payloadSize, pinned: this.pinned } : null,
      workers: {
        count: this.slots.length,
        alive: this.slots.filter((s) => s.running).length,
        restarts: this.slots.reduce((a, s) => a + s.restarts, 0),
        list: this.slots.map((s) => ({ index: s.index, threadId: s.threadId, tid: s.tid, running: s.running, restarts: s.restarts, adoptedQueues: s.adopted })),
      },
      capabilities: this.caps,
      inodes: {
        inUse: this.table.inUse(), capacity: this.table.capacity, limit: this.table.limit, rootReserve: this.table.reserve,
        openFds: this.table.heldFds(), cachedFds: this.table.cachedFds(), fdBudget: this.table.fdBudget,
        reopened: this.table.reopens(), evicted: this.table.evictions(),
      },
      ...sum,
      policy: this.policyStatus(sum.ruleHits, sum.policyCost),
      audit: this.opt.audit ? { dest: this.opt.audit, onFailure: this.opt.auditFailure } : null,
      openFiles: this.openFiles(),
    };
  }

  /**
   * Load the policy file again. An invalid file is refused with its line and
   * reason, and the running policy stays. New opens follow the new policy;
   * files already open keep their mode.
   */
  reload(): { ok: boolean; error?: string; rules?: number; digest?: string } {
    if (!this.opt.policy) return { ok: false, error: 'this mount has no policy (--policy)' };
    let p: Policy;
    try {
      p = loadPolicyFile(this.opt.policy);
    } catch (e) {
      const msg = e instanceof PolicyError ? e.message : (e as Error).message;
      log(`reload refused, the running policy stays: ${msg}`, 'warn');
      return { ok: false, error: msg };
    }
    this.policy = p;
    this.policyLoadedAt = new Date();
    // Rule hits restart with the new rules.
    const all = new Float64Array(this.statsMem);
    for (let row = 0; row < all.length; row += C.STRIDE) all.fill(0, row + C.RULE_BASE, row + C.RULE_BASE + MAX_RULES + 1);
    for (const s of this.slots) s.port?.postMessage({ policy: { text: p.text, file: p.file } });
    log(`policy reloaded from ${p.file} (${p.rules.length} rules, ${p.digest.slice(0, 12)})`);
    return { ok: true, rules: p.rules.length, digest: p.digest };
  }

  /** Files open right now (the first OPEN_FILES_LISTED), with their I/O mode and (last) opener. */
  private openFiles(): OpenFileStatus[] {
    const out: OpenFileStatus[] = [];
    const paths = (this.lowerPaths ??= new LowerPaths(native, this.rootFd, this.lowerRoot));
    const fds = (this.slotFds ??= new SlotFds(native, this.table));
    for (const o of this.table.openInodes()) {
      if (out.length >= OPEN_FILES_LISTED) break;
      let path: string;
      const s = o.nodeid - 1;
      try {
        // Pinned while read, as in the workers (fs/slotfds.ts); a path the kernel cannot tell for sure is left out.
        const fd = fds.get(s, o.generation);
        if (fd < 0) continue;
        path = paths.relative(fd, undefined, this.table.reopenedByHandle(s));
      } catch {
        continue;
      } finally {
        fds.done();
      }
      out.push({
        path, nodeid: o.nodeid, mode: o.mode === IoMode.Passthrough ? 'passthrough' : 'mediated', opens: o.opens,
        opener: { pid: o.pid, uid: o.uid, comm: processInfo(o.pid, { comm: true }).comm ?? null },
      });
    }
    return out;
  }

  private policyStatus(hits: number[], cost: { decisions: number; micros: number }): PolicyStatus | null {
    const p = this.policy;
    if (!p) return null;
    return {
      file: p.file,
      digest: p.digest,
      loadedAt: this.policyLoadedAt?.toISOString(),
      rules: p.rules.map((r) => ({ name: r.name, line: r.line, action: r.action, audit: r.audit, hits: hits[Math.min(r.index, MAX_RULES)] })),
      default: { action: p.default.action, hits: hits[MAX_RULES] },
      decisions: cost.decisions,
      microsPerDecision: cost.decisions ? Math.round((cost.micros / cost.decisions) * 100) / 100 : 0,
    };
  }

  private async command(cmd: { cmd: string; [k: string]: unknown }): Promise<unknown> {
    // While the mount is being handed over, the state is (or is about to be) the successor's.
    if (this.drained || this.successor) return { ok: false, error: 'the daemon is handing the mount over: ask again in a moment' };
    switch (cmd.cmd) {
      case 'status':
        return this.status();
      case 'reload':
        return this.reload();
      case 'umount':
        return this.unmount();
      case 'handover':
        return this.handover(this.opt.argv ?? []);
      case 'kill-worker': {
        // For tests and drills: terminate one worker thread as if it had crashed.
        const slot = this.slots[Number(cmd.index ?? 0)];
        if (!slot || !slot.running) return { ok: false, error: 'no such running worker' };
        const t = this.pool.threads.find((w) => w.threadId === slot.threadId);
        if (!t) return { ok: false, error: 'worker thread not found' };
        await t.terminate();
        return { ok: true, threadId: slot.threadId };
      }
      default:
        return { ok: false, error: `unknown command ${cmd.cmd}` };
    }
  }
}

export const defaultWorkers = (): number => Math.max(1, os.availableParallelism());
