// The piscina task that turns a pool thread into a FUSE server: one task per
// worker, running until the connection ends. The main thread owns every
// /dev/fuse fd and hands each worker its own clone, so that when a worker dies
// the main thread can close that fd (the kernel then fails the requests the
// worker had taken with ECONNABORTED instead of leaving them hanging).
import { threadId } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { native } from '../native/index.js';
import { InodeTable, InodeTableMemory } from '../fs/inodes.js';
import type { PathMemory } from '../fs/paths.js';
import { Mirror } from '../fs/mirror.js';
import { statsRow } from './stats.js';
import { DevFuseTransport } from '../transports/devfuse.js';
import { UringTransport } from '../transports/uring.js';
import type { Transport } from '../transports/transport.js';
import { Ring } from '../io/ring.js';
import { AsyncEngine, SyncEngine } from '../io/mediated.js';
import { loadPolicy, Policy } from '../policy/index.js';
import { AuditLog, AuditFailure } from './audit.js';
import { pinToQueues } from './pinning.js';
import type { OpenFilesMemory } from '../fs/openfiles.js';
import { Level, Log, makeLogger } from './logging.js';

export interface WorkerTask {
  index: number;
  fd: number;
  inodes: InodeTableMemory;
  /** The open files holding a descriptor (fs/openfiles.ts). */
  files: OpenFilesMemory;
  /** The policy's remembered paths, shared by the workers (null without a policy). */
  paths: PathMemory | null;
  stats: SharedArrayBuffer;
  io: 'passthrough' | 'mediated';
  passthrough: boolean;
  validMs: number;
  /** The lower directory's watch group: workers mark the directories they enter (-1: no watch). */
  watchFd: number;
  /** Mediated reads and writes: inline pread/pwrite, or io_uring. */
  mediated: 'sync' | 'async';
  /** FUSE-over-io_uring queues this worker serves (empty: /dev/fuse reads only). */
  queues: number[];
  queueDepth: number;
  payloadSize: number;
  /** Keep this worker on its queues' CPUs (src/server/pinning.ts). */
  pin: boolean;
  lowerRoot: string;
  /** mount(2) flags of the passfs mount: mounts inside LOWER are crossed only within them. */
  mountFlags: number;
  /** The policy's text (each worker compiles its own copy), or null. */
  policy: { text: string; file: string } | null;
  /** The audit destination; `fd`, the file the main thread opened for every worker (-1 for stdout). */
  audit: { dest: string; fd: number; onFailure: AuditFailure } | null;
  /** What to log (--log-level; debug traces every request), and whether stderr is the journal. */
  logLevel: Level;
  journal: boolean;
  /**
   * To the main thread: { threadId, tid, adopted } once serving. From it: { policy } on
   * reload (already validated by the main thread).
   */
  port: MessagePort;
}

export interface WorkerResult {
  index: number;
  tid: number;
}

export default async function serve(task: WorkerTask | { warm: true }): Promise<WorkerResult> {
  // A successor's warm-up (server/handover.ts): this thread has loaded its code, which is all it was for.
  if ('warm' in task) return { index: -1, tid: native.gettid() };
  // Rate-limited: a user can cause some of these lines through the mount (logging.ts).
  const logger = makeLogger(`passfs[worker ${task.index}]`, task.logLevel, task.journal, (line) => process.stderr.write(line));
  // What workers log is mostly trouble: warn unless said.
  const log: Log = (m, level = 'warn') => logger.log(m, level);
  // Owner ids for the table lock: workers are 1.., the main thread is 0x7fff.
  const table = new InodeTable(task.inodes, task.index + 1);
  const uringEntries = task.queues.length * task.queueDepth;
  // One ring serves both the FUSE queues and the async engine; sized above all that can be in flight.
  // A ring with FUSE entries outlives its worker: the replacement (same index) adopts it.
  const ring = task.mediated === 'async' || uringEntries > 0
    ? new Ring(Math.max(64, 2 ** Math.ceil(Math.log2(uringEntries * 2 + 64))), uringEntries > 0, uringEntries > 0 ? task.index + 1 : 0)
    : null;
  if (task.pin) pinToQueues(task.queues, log);
  const stats = statsRow(task.stats, task.index);
  const compile = (p: { text: string; file: string } | null): Policy | null => (p ? loadPolicy(p.text, p.file) : null);
  const audit = task.audit ? new AuditLog(task.audit.dest, task.audit.fd, task.audit.onFailure, log) : null;
  const mirror = new Mirror(native, table, stats, task.fd, {
    io: task.io,
    passthrough: task.passthrough,
    validMs: task.validMs,
    log,
    trace: logger.trace,
    engine: (replies) => (task.mediated === 'async' && ring ? new AsyncEngine(ring, replies, stats) : new SyncEngine(replies)),
    lowerRoot: task.lowerRoot,
    mountFlags: task.mountFlags,
    watchFd: task.watchFd,
    policy: compile(task.policy),
    audit,
    paths: task.paths,
    files: task.files,
  });
  // A handover (server/handover.ts): stop taking requests, answer the ones begun, end.
  let draining: Promise<void> | null = null;
  task.port.on('message', (m: { policy?: { text: string; file: string } | null; drain?: boolean }) => {
    if (m.policy !== undefined) mirror.setPolicy(compile(m.policy));
    if (m.drain && !draining) {
      for (const t of transports) t.stop();
      draining = mirror.idle();
    }
  });
  task.port.unref();
  // /dev/fuse always: requests arrive there until the rings take over, and
  // interrupts and notifications never leave it.
  const transports: Transport[] = [new DevFuseTransport(task.fd, stats, log)];
  if (ring && uringEntries > 0) {
    transports.push(new UringTransport(ring, task.fd, task.queues, task.queueDepth, task.payloadSize, stats, log));
  }
  const serving = Promise.race(transports.map((t) => t.serve(mirror)));
  task.port.postMessage({ threadId, tid: native.gettid(), adopted: !!ring?.adopted && uringEntries > 0 });
  await serving;
  // Requests begun are answered before the clone is closed (closing it would abort them).
  if (draining) await draining;
  task.port.close();
  await audit?.close();
  for (const t of transports) t.stop();
  ring?.close();
  return { index: task.index, tid: native.gettid() };
}
