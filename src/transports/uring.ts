// FUSE over io_uring (protocol 7.42). Each worker registers `depth` entries
// on each of its queues; a completion on an entry means a request is in its
// buffers, and COMMIT_AND_FETCH sends the reply and re-arms the entry, in one
// SQE: no read(2)/write(2) per request, and replies of a batch go out in one
// io_uring_enter.
//
// An entry's buffers, as the kernel fills them: a 288-byte header buffer
// (the fuse_in_header in its first 128 bytes, the opcode's fixed argument
// struct in the next 128, then fuse_uring_ent_in_out) and a payload buffer
// (names, write data). The codec wants one contiguous request, so the entry's
// payload buffer sits at offset PAD of a larger buffer and the in-header and
// fixed argument (at most 168 bytes) are copied in just before it: the
// payload, which can be a megabyte of write data, is never copied. Replies
// go back the same way: the out-header to the header buffer, the body to the
// payload buffer. Data replies (READ) are built in place in the payload;
// small metadata replies are built in a scratch buffer and copied (they may
// not overwrite a request name still in use).
//
// The entries' buffers live in the ring's native arena, because the kernel
// keeps writing to them after a worker dies. A replacement worker adopts the
// ring (see addon/uring.cc) and picks each entry up where it stood: a request
// the dead worker had started gets ECONNABORTED (it may be half done), one it
// never saw is served, a reply it wrote is sent, and an entry the kernel
// cancelled when the thread exited is registered again.
import { native, FuseEntryState } from '../native/index.js';
import { IN_HEADER, OUT_HEADER } from '../fuse/abi.js';
import { Answer, answerOf, fixedInSize, OP_SLOTS } from '../fuse/opcodes.js';
import { Request, Reply, readU64 } from '../fuse/codec.js';
import { Ring } from '../io/ring.js';
import { Exchange, ExchangeOwner, Handler, PENDING, URING_ID_BASE } from '../fuse/exchange.js';
import type { Transport } from './transport.js';
import { C } from '../io/counters.js';

const HEADER_SIZE = 288;
const OP_IN = 128;
const ENT = 256;
/** Room for the in-header plus the largest fixed argument struct, before the payload. */
const PAD = 256;
if (IN_HEADER + Math.max(...fixedInSize) > PAD || Math.max(...fixedInSize) > ENT - OP_IN) throw new Error('io_uring entry layout: a fixed argument struct does not fit');
/** An entry's place in the arena: its header, then its request buffer (PAD + payload). */
const HEADER_ROOM = 512;
export const RING_KIND_FUSE = 2;

class Entry implements Exchange {
  readonly header: Uint8Array;
  readonly hdv: DataView;
  readonly buf: Uint8Array;
  readonly payload: Uint8Array;
  readonly req: Request;
  readonly inPlace: Reply;
  rep: Reply;
  readonly stable = true;
  /** Armed by a dead worker: the kernel cancels it when that thread exits. */
  inherited = false;

  constructor(readonly id: number, readonly qid: number, arena: ArrayBuffer, at: number, payloadSize: number, readonly owner: UringTransport, scratch: Reply) {
    this.header = new Uint8Array(arena, at, HEADER_SIZE);
    this.hdv = new DataView(arena, at, HEADER_SIZE);
    this.buf = new Uint8Array(arena, at + HEADER_ROOM, PAD + payloadSize);
    this.payload = this.buf.subarray(PAD);
    this.req = new Request(this.buf);
    this.inPlace = new Reply(this.buf, PAD - OUT_HEADER);
    this.rep = scratch;
  }
}

export class UringTransport implements Transport, ExchangeOwner {
  readonly name = 'uring';
  private readonly entries: Entry[] = [];
  private readonly scratch: Reply;
  private handler: Handler | null = null;
  private done: (() => void) | null = null;
  private ended = false;

  constructor(
    private readonly ring: Ring,
    private readonly fd: number,
    queues: number[],
    depth: number,
    payloadSize: number,
    private readonly stats: Float64Array,
    private readonly log: (m: string) => void,
  ) {
    this.scratch = new Reply(payloadSize + OUT_HEADER);
    const stride = Math.ceil((HEADER_ROOM + PAD + payloadSize) / 4096) * 4096;
    const arena = native.uringFuseArena(ring.id, stride * queues.length * depth);
    if (typeof arena === 'number') throw new Error(`io_uring entry buffers: ${native.errnoName(-arena)}`);
    for (const qid of queues) {
      for (let d = 0; d < depth; d++) {
        const i = this.entries.length;
        this.entries.push(new Entry(URING_ID_BASE + i, qid, arena, i * stride, payloadSize, this, this.scratch));
      }
    }
    ring.on(RING_KIND_FUSE, (id, res) => this.onCompletion(id - URING_ID_BASE, res));
  }

  serve(handler: Handler): Promise<void> {
    this.handler = handler;
    return new Promise((resolve) => {
      this.done = resolve;
      if (this.ring.adopted) this.takeOver();
      else for (const e of this.entries) this.register(e);
      this.ring.submit();
    });
  }

  private register(e: Entry): void {
    const r = native.uringFuseRegister(this.ring.id, this.fd, e.qid, e.header, e.payload, Ring.data(RING_KIND_FUSE, e.id));
    if (!this.ring.prepared(r)) {
      this.log(`io_uring register of queue ${e.qid}: ${native.errnoName(-r)}`);
      this.finish();
    }
  }

  /**
   * Pick up every entry of an adopted ring where the dead worker left it.
   * The addon answers what that worker had started and commits what it had
   * answered (uringFuseTakeOver); here, what is left for JS.
   */
  private takeOver(): void {
    const states = native.uringFuseTakeOver(this.ring.id, this.fd);
    if (typeof states === 'number') throw new Error(`io_uring adoption: ${native.errnoName(-states)}`);
    this.ring.prepared(0); // the addon's answers and commits: submitted with the next batch
    const seen = new Set<Entry>();
    for (let k = 1; k < states.length; k += 2) {
      const e = this.entries[states[k] - Ring.data(RING_KIND_FUSE, URING_ID_BASE)];
      if (!e) continue;
      seen.add(e);
      switch (states[k + 1]) {
        case FuseEntryState.armed: e.inherited = true; break;
        case FuseEntryState.delivered: this.onCompletion(e.id - URING_ID_BASE, 0); break;
        case FuseEntryState.idle: this.register(e); break;
        default: break; // queued: answered or committed by the addon
      }
    }
    for (const e of this.entries) if (!seen.has(e)) this.register(e);
    this.log(`took over the io_uring queues of the worker before (${states[0]} request(s) it had started answered with ECONNABORTED)`);
  }

  stop(): void {
    this.finish();
  }

  /** A request arrived in entry `i` (res 0), or the entry ended (res < 0). */
  private onCompletion(i: number, res: number): void {
    const e = this.entries[i];
    if (!e) return;
    if (res < 0 && e.inherited) {
      // Cancelled as its first owner's thread exited (ECANCELED): arm it again.
      e.inherited = false;
      this.register(e);
      return;
    }
    e.inherited = false;
    if (res < 0) {
      // The connection is gone (unmount or abort): the kernel cancels every entry.
      if (!this.ended) this.log(`io_uring queue ${e.qid} ended: ${native.errnoName(-res)}`);
      this.finish();
      return;
    }
    const hdv = e.hdv;
    const opcode = hdv.getUint32(4, true);
    // The opcode table (fuse/opcodes.ts) says how much of the request is its fixed argument.
    const known = opcode < OP_SLOTS;
    const fixed = known ? fixedInSize[opcode] : 0;
    const base = PAD - IN_HEADER - fixed;
    // Make the request contiguous: [in-header][fixed args][payload...]
    e.buf.set(e.header.subarray(0, IN_HEADER), base);
    if (fixed) e.buf.set(e.header.subarray(OP_IN, OP_IN + fixed), PAD - fixed);
    e.req.load(base);
    this.stats[C.viaUring]++;
    e.rep = known && answerOf[opcode] === Answer.inPlace ? e.inPlace : this.scratch;
    const len = this.handler!.dispatch(e);
    if (len !== PENDING) this.send(e, len);
    this.handler!.afterReply();
  }

  /** Commit the reply of `e` and fetch the next request into it. */
  send(x: Exchange, len: number): void {
    const e = x as Entry;
    const rep = e.rep;
    if (this.ended) return;
    const body = len > OUT_HEADER ? len - OUT_HEADER : 0;
    // out-header to the header buffer, body to the payload buffer
    e.header.set(rep.buf.subarray(rep.base, rep.base + OUT_HEADER), 0);
    if (rep !== e.inPlace && body > 0) e.payload.set(rep.buf.subarray(rep.at(0), rep.at(body)), 0);
    e.hdv.setUint32(ENT + 16, body, true);
    const commitId = readU64(e.hdv, ENT + 8);
    const r = native.uringFuseCommit(this.ring.id, this.fd, e.qid, commitId, Ring.data(RING_KIND_FUSE, e.id));
    if (!this.ring.prepared(r)) this.log(`io_uring commit on queue ${e.qid}: ${native.errnoName(-r)}`);
  }

  stabilize(x: Exchange): Exchange | null {
    return x; // entries keep their buffers until committed
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    const d = this.done;
    this.done = null;
    d?.();
  }
}
