// One io_uring per worker thread, shared by everything in the worker that
// submits to it (the FUSE-over-io_uring transport and the async mediated
// engine). Users register a completion handler under a "kind"; the 64-bit
// user_data of each SQE carries kind * 2^32 + id. Submissions are batched:
// prepared SQEs go to the kernel in one io_uring_enter when the current batch
// of work ends (after a batch of completions, or on the next turn of the
// event loop), never one system call per request.
import { native } from '../native/index.js';

const TWO32 = 2 ** 32;

export type CompletionHandler = (id: number, res: number) => void;

export class Ring {
  readonly id: number;
  /** Taken over from a dead worker (see native.uringAdopt), not created. */
  readonly adopted: boolean;
  private readonly cqes = new Float64Array(2 * 256);
  private readonly handlers: CompletionHandler[] = [];
  private prepared_ = 0;
  private flushQueued = false;
  private inReap = false;

  /**
   * `slot` > 0 makes the ring outlive this thread: a replacement worker
   * passing the same slot adopts the ring its predecessor left, if any.
   */
  constructor(entries: number, sqe128: boolean, slot = 0) {
    const reap = (n: number) => this.reap(n);
    const adopted = slot > 0 ? native.uringAdopt(slot, this.cqes, reap) : -1;
    this.adopted = adopted > 0;
    this.id = this.adopted ? adopted : native.uringCreate(entries, sqe128, this.cqes, reap, slot);
    if (this.id < 0) throw new Error(`io_uring setup failed: ${native.errnoName(-this.id)}`);
  }

  on(kind: number, handler: CompletionHandler): void {
    this.handlers[kind] = handler;
  }

  /**
   * Account for one SQE just prepared with a native.uring* call whose result
   * is `r`. The ring is sized above everything a worker can have in flight,
   * so a full SQ (-EBUSY) is a bug, reported as false like any refusal.
   */
  prepared(r: number): boolean {
    if (r < 0) return false;
    this.prepared_++;
    if (!this.inReap && !this.flushQueued) {
      this.flushQueued = true;
      setImmediate(this.flushSoon);
    }
    return true;
  }

  static data(kind: number, id: number): number {
    return kind * TWO32 + id;
  }

  submit(): void {
    if (this.prepared_ === 0) return;
    const r = native.uringSubmit(this.id);
    if (r >= 0) this.prepared_ = Math.max(0, this.prepared_ - r);
  }

  close(): void {
    native.uringClose(this.id);
  }

  private readonly flushSoon = (): void => {
    this.flushQueued = false;
    this.submit();
  };

  private reap(n: number): void {
    const { cqes, handlers } = this;
    this.inReap = true;
    try {
      for (let i = 0; i < n; i++) {
        const ud = cqes[2 * i];
        const kind = Math.floor(ud / TWO32);
        handlers[kind]?.(ud - kind * TWO32, cqes[2 * i + 1]);
      }
    } finally {
      this.inReap = false;
    }
    // Everything the handlers prepared goes out in one system call.
    this.submit();
  }
}
