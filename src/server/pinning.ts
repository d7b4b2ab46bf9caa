// Where a FUSE-over-io_uring worker runs. The kernel puts an application's
// request on the queue of the CPU the application runs on; a worker kept on
// its queues' CPUs takes the request over on the same CPU (the application
// sleeps, the worker runs: no cross-CPU wake-up, warm caches), which takes
// about a fifth off each metadata round trip on the bench machine
// (bench/README.md). But a pinned worker next to a busy submitter (AIO at
// depth from one thread) shares that CPU and cannot move to an idle one,
// which costs a mediated AIO workload a third or more.
//
// So `auto` pins only when the daemon serves metadata alone: every file is
// in passthrough (--io passthrough, no policy), so no read or write reaches
// the workers. `on` and `off` force it. (A worker measuring its own load to
// decide did not work: a pinned worker sharing its CPU with fio and one in a
// metadata ping-pong both run about half the time.)
import { native } from '../native/index.js';

export type PinMode = 'auto' | 'on' | 'off';

/** Whether workers serving io_uring queues should be pinned to their queues' CPUs. */
export function shouldPin(mode: PinMode, onlyPassthrough: boolean): boolean {
  return mode === 'on' || (mode === 'auto' && onlyPassthrough);
}

/** Restrict the calling worker thread to its queues' CPUs; a refusal is logged, not fatal. */
export function pinToQueues(queues: number[], log: (m: string) => void): boolean {
  if (queues.length === 0) return false;
  const r = native.pinThread(queues);
  if (r < 0) log(`cannot pin to CPUs ${queues.join(',')}: ${native.errnoName(-r)}`);
  return r === 0;
}
