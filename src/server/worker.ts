// The piscina task that turns a pool thread into a FUSE server: one task per
// worker, running until the connection ends. The main thread owns every
// /dev/fuse fd and hands each worker its own clone, so that when a worker dies
// the main thread can close that fd (the kernel then fails the requests the
// worker had taken with ECONNABORTED instead of leaving them hanging).
import { threadId } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { native } from '../native/index.js';
import { InodeTable, InodeTableMemory } from '../fs/inodes.js';
import { Mirror } from '../fs/mirror.js';
import { statsRow } from './stats.js';
import { DevFuseTransport } from './transports/devfuse.js';
import { Transport } from './transports/transport.js';

export interface WorkerTask {
  index: number;
  fd: number;
  inodes: InodeTableMemory;
  stats: SharedArrayBuffer;
  io: 'passthrough' | 'mediated';
  passthrough: boolean;
  validMs: number;
  debug: boolean;
  /** Tells the main thread this worker is serving (and which thread it is). */
  port: MessagePort;
}

export interface WorkerResult {
  index: number;
  tid: number;
}

export default async function serve(task: WorkerTask): Promise<WorkerResult> {
  const log = (m: string) => process.stderr.write(`passfs[worker ${task.index}]: ${m}\n`);
  // Owner ids for the table lock: workers are 1.., the main thread is 0x7fff.
  const table = new InodeTable(task.inodes, task.index + 1);
  const mirror = new Mirror(native, table, statsRow(task.stats, task.index), task.fd, {
    io: task.io,
    passthrough: task.passthrough,
    validMs: task.validMs,
    log,
  });
  const transport: Transport = new DevFuseTransport(task.fd, log);
  const serving = transport.serve((req, rep) => mirror.dispatch(req, rep));
  task.port.postMessage({ threadId });
  task.port.close();
  await serving;
  return { index: task.index, tid: native.gettid() };
}
