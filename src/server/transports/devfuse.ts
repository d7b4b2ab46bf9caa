// The classic transport: read(2) requests from a cloned /dev/fuse fd when the
// worker's event loop says it is readable, write(2) each reply.
import { native } from '../../native/index.js';
import { REQUEST_BUFFER } from '../../fuse/abi.js';
import { Request, Reply } from '../../fuse/codec.js';
import { E } from '../../fs/linux.js';
import { Dispatch, Transport } from './transport.js';

/** Requests read per wake-up before the event loop gets a turn. */
const BATCH = 32;

export class DevFuseTransport implements Transport {
  readonly name = 'devfuse';
  private readonly req = new Request(new Uint8Array(new ArrayBuffer(REQUEST_BUFFER)));
  private readonly rep = new Reply(REQUEST_BUFFER);
  private watch = 0;
  private done: (() => void) | null = null;

  constructor(private readonly fd: number, private readonly log: (m: string) => void) {}

  serve(dispatch: Dispatch): Promise<void> {
    const { req, rep, fd } = this;
    return new Promise((resolve) => {
      this.done = resolve;
      this.watch = native.devWatch(fd, req.buf, BATCH, (n) => {
        if (n < 0) {
          // ENODEV: the file system was unmounted; anything else is fatal for this fd.
          if (n !== -E.NODEV) this.log(`read /dev/fuse: ${native.errnoName(-n)}`);
          this.finish();
          return;
        }
        req.load();
        const len = dispatch(req, rep);
        if (len === 0) return;
        const w = native.write(fd, rep.buf, 0, len);
        // ENOENT: the request was interrupted and the kernel no longer waits for it.
        if (w < 0 && w !== -E.NOENT) this.log(`reply to ${req.opcode}: ${native.errnoName(-w)}`);
      });
      if (this.watch < 0) {
        this.log(`cannot watch /dev/fuse: ${native.errnoName(-this.watch)}`);
        this.finish();
      }
    });
  }

  stop(): void {
    this.finish();
  }

  private finish(): void {
    if (this.watch > 0) native.devUnwatch(this.watch);
    this.watch = 0;
    const d = this.done;
    this.done = null;
    d?.();
  }
}
