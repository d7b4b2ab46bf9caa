// The classic transport: read(2) requests from a cloned /dev/fuse fd, write(2)
// each reply. The addon waits for requests alongside the worker's event loop
// and wakes one worker per request, not all of them (addon/devwatch.cc).
import { native } from '../native/index.js';
import { REQUEST_BUFFER } from '../fuse/abi.js';
import { Request, Reply } from '../fuse/codec.js';
import { E } from '../native/linux.js';
import { Exchange, ExchangeOwner, Handler, PENDING, DEVFUSE_ASYNC, DEVFUSE_ID_BASE } from '../fuse/exchange.js';
import type { Transport } from './transport.js';
import { C } from '../io/counters.js';

/** Requests read per wake-up before the event loop gets a turn. */
const BATCH = 32;

interface Slot extends Exchange {
  busy: boolean;
}

export class DevFuseTransport implements Transport, ExchangeOwner {
  readonly name = 'devfuse';
  /** The exchange every request is read into; reused as soon as dispatch returns. */
  private readonly main: Exchange;
  /** Stable exchanges for requests served asynchronously, allocated on first use. */
  private readonly slots: Slot[] = [];
  private readonly freeSlots: Slot[] = [];
  private watch = 0;
  private done: (() => void) | null = null;

  constructor(
    private readonly fd: number,
    private readonly stats: Float64Array,
    private readonly log: (m: string) => void,
  ) {
    const buf = new Uint8Array(new ArrayBuffer(REQUEST_BUFFER));
    this.main = { id: DEVFUSE_ID_BASE, req: new Request(buf), rep: new Reply(REQUEST_BUFFER), stable: false, owner: this };
  }

  serve(handler: Handler): Promise<void> {
    const { main, fd } = this;
    return new Promise((resolve) => {
      this.done = resolve;
      this.watch = native.devWatch(fd, main.req.buf, BATCH, (n) => {
        if (n === -E.AGAIN) {
          // Woken, but another worker read the request (the addon wakes one
          // worker per request; this shows how often that still happens).
          this.stats[C.devfuseEmptyWakeups]++;
          return;
        }
        if (n <= 0) {
          // ENODEV: the file system was unmounted; anything else is fatal for this fd.
          if (n !== -E.NODEV) this.log(`read /dev/fuse: ${n ? native.errnoName(-n) : 'end of file'}`);
          this.finish();
          return;
        }
        main.req.load();
        this.stats[C.viaDevfuse]++;
        const len = handler.dispatch(main);
        if (len !== PENDING) this.write(main, len);
        handler.afterReply();
      });
      if (this.watch < 0) {
        this.log(`cannot watch /dev/fuse: ${native.errnoName(-this.watch)}`);
        this.finish();
      }
    });
  }

  send(x: Exchange, len: number): void {
    this.write(x, len);
    const s = x as Slot;
    if (s.busy) {
      s.busy = false;
      this.freeSlots.push(s);
    }
  }

  stabilize(x: Exchange): Exchange | null {
    let s = this.freeSlots.pop();
    if (!s) {
      if (this.slots.length >= DEVFUSE_ASYNC) return null;
      // One buffer serves as both request and reply: the reply header is
      // written over the request header only when the request is done.
      const buf = new Uint8Array(new ArrayBuffer(REQUEST_BUFFER));
      s = { id: DEVFUSE_ID_BASE + 1 + this.slots.length, req: new Request(buf), rep: new Reply(buf), stable: true, owner: this, busy: false };
      this.slots.push(s);
    }
    s.busy = true;
    x.req.copyTo(s.req);
    return s;
  }

  stop(): void {
    this.finish();
  }

  private write(x: Exchange, len: number): void {
    if (len === 0) return;
    const w = native.write(this.fd, x.rep.buf, x.rep.base, len);
    // ENOENT: the request was interrupted and the kernel no longer waits for it.
    if (w < 0 && w !== -E.NOENT) this.log(`reply to opcode ${x.req.opcode}: ${native.errnoName(-w)}`);
  }

  private finish(): void {
    if (this.watch > 0) native.devUnwatch(this.watch);
    this.watch = 0;
    const d = this.done;
    this.done = null;
    d?.();
  }
}
