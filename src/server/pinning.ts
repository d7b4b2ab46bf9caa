// Where a FUSE-over-io_uring worker runs. The kernel puts an application's
// request on the queue of the CPU the application runs on; a worker kept on
// its queues' CPUs takes the request over on the same CPU (the application
// sleeps, the worker runs, no cross-CPU wake-up, warm caches): about 20%
// off each metadata round trip here (bench/README.md). But a worker pinned
// next to a busy submitter (AIO at depth from one thread) shares its CPU
// and cannot use an idle neighbour, which halves such a workload.
//
// So `auto` pins a worker while it is mostly idle (latency-bound) and lets it
// run anywhere while it is busy (throughput-bound), judged from the CPU time
// its thread used over the last interval (not the event loop utilization:
// a worker whose next request arrives while it submits a reply never waits
// in epoll, so its loop looks busy however idle its CPU is); `on` and `off`
// are fixed.
import { native } from '../native/index.js';

export type PinMode = 'auto' | 'on' | 'off';

const INTERVAL_MS = 200;
/** Busier than this: free; idler than that: pinned again (a gap, so it does not flap). */
const FREE_ABOVE = 0.7;
const PIN_BELOW = 0.4;

export class Pinning {
  pinned = false;
  /** Times the worker moved between pinned and free. */
  changes = 0;
  private cpu = native.threadCpuNs();
  private wall = process.hrtime.bigint();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly mode: PinMode,
    private readonly queues: number[],
    private readonly cpus: number,
    private readonly log: (m: string) => void,
  ) {
    if (mode === 'off' || queues.length === 0) return;
    this.set(true);
    if (mode === 'auto') {
      this.timer = setInterval(() => this.check(), INTERVAL_MS);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private check(): void {
    const cpu = native.threadCpuNs();
    const wall = process.hrtime.bigint();
    const busy = (cpu - this.cpu) / Number(wall - this.wall);
    this.cpu = cpu;
    this.wall = wall;
    if (process.env.PASSFS_PINDEBUG) this.log(`busy ${busy.toFixed(2)} pinned ${this.pinned}`);
    if (this.pinned && busy > FREE_ABOVE) this.set(false);
    else if (!this.pinned && busy < PIN_BELOW) this.set(true);
  }

  private set(pin: boolean): void {
    const cpus = pin ? this.queues : Array.from({ length: this.cpus }, (_, i) => i);
    const r = native.pinThread(cpus);
    if (r < 0) {
      this.log(`cannot ${pin ? 'pin to' : 'free from'} CPUs ${this.queues.join(',')}: ${native.errnoName(-r)}`);
      this.stop();
      return;
    }
    if (this.pinned !== pin) this.changes++;
    this.pinned = pin;
  }
}
