// How mediated READ, WRITE, FSYNC and FALLOCATE reach the lower file.
//
// SyncEngine: pread/pwrite inline, the reply goes out before the next request
// is read. AsyncEngine: whatever would wait for the disk becomes an io_uring
// SQE, many are in flight per worker, submitted in batches; the reply is sent
// when the completion arrives. Both report results to the file system
// (IoReplies), which builds the replies.
//
// A lone read or write (the first of a turn of the event loop) is tried at
// once with RWF_NOWAIT: data in the page cache is copied and the reply goes
// out without waiting for a completion, which would cost the worker one more
// wake-up (most of the cost of a cached 4 KiB read). What would block
// (-EAGAIN) goes to the ring, and so does the rest of a burst (many requests
// in one wake-up, as AIO at depth sends them): one system call for all of
// them beats one each. A lower file system that cannot say whether a
// buffered write would block (-EOPNOTSUPP: ext4 as of 6.18) gets its lone
// writes done at once with a plain pwrite. fsync and fallocate always go to
// the ring.
import { native } from '../native/index.js';
import { Exchange, PENDING } from '../fuse/exchange.js';
import { WriteIn } from '../fuse/structs.js';
import { E } from '../native/linux.js';
import { C } from './counters.js';
import { Ring } from './ring.js';

export const enum IoKind { Read = 1, Write, Fsync, Fallocate }

/** Where the engines report results: the file system, which builds the replies. */
export interface IoReplies {
  /** The reply body for an I/O result (res: bytes or -errno): its length, or -errno. */
  body(x: Exchange, kind: IoKind, res: number): number;
  /** Send the reply of an exchange whose operation returned PENDING (r: what body() gave). */
  send(x: Exchange, r: number): void;
}

export interface MediatedEngine {
  readonly name: 'sync' | 'async';
  /**
   * Each returns the reply body's length or -errno (from IoReplies.body), or
   * PENDING (replied on completion). `owned`: the engine closes `fd` once the
   * operation is done (a descriptor opened for this one request).
   */
  read(x: Exchange, fd: number, len: number, pos: number): number;
  write(x: Exchange, fd: number, len: number, pos: number): number;
  fsync(x: Exchange, fd: number, dataOnly: boolean, owned?: boolean): number;
  fallocate(x: Exchange, fd: number, mode: number, offset: number, len: number, owned?: boolean): number;
}

/** WRITE data follows the fuse_write_in struct. */
const WRITE_DATA = WriteIn.SIZE;

export class SyncEngine implements MediatedEngine {
  readonly name = 'sync';
  constructor(private readonly io: IoReplies) {}

  read(x: Exchange, fd: number, len: number, pos: number): number {
    return this.io.body(x, IoKind.Read, native.pread(fd, x.rep.buf, x.rep.at(0), Math.min(len, x.rep.room), pos));
  }

  write(x: Exchange, fd: number, len: number, pos: number): number {
    return this.io.body(x, IoKind.Write, native.pwrite(fd, x.req.buf, x.req.at(WRITE_DATA), len, pos));
  }

  fsync(x: Exchange, fd: number, dataOnly: boolean, owned = false): number {
    const r = native.fsync(fd, dataOnly);
    if (owned) native.close(fd);
    return this.io.body(x, IoKind.Fsync, r);
  }

  fallocate(x: Exchange, fd: number, mode: number, offset: number, len: number, owned = false): number {
    const r = native.fallocate(fd, mode, offset, len);
    if (owned) native.close(fd);
    return this.io.body(x, IoKind.Fallocate, r);
  }
}

/** The ring kind under which this engine's completions arrive. */
export const RING_KIND_MEDIATED = 1;

export class AsyncEngine implements MediatedEngine {
  readonly name = 'async';
  /** In-flight exchanges and their kind, by exchange id (small integers: arrays, no per-request objects). */
  private readonly held: (Exchange | undefined)[] = [];
  private readonly kinds: IoKind[] = [];
  /** The descriptor to close at completion (an `owned` one), or -1, by exchange id. */
  private readonly owned: number[] = [];
  private readonly sync: SyncEngine;
  /** Cleared when the lower fs answers a RWF_NOWAIT write with EOPNOTSUPP. */
  private writeNowait = true;
  /** Reads and writes started in this turn of the event loop. */
  private burst = 0;
  private readonly endBurst = (): void => { this.burst = 0; };

  constructor(private readonly ring: Ring, private readonly io: IoReplies, private readonly stats: Float64Array) {
    this.sync = new SyncEngine(io);
    ring.on(RING_KIND_MEDIATED, (id, res) => {
      const x = this.held[id];
      if (!x) return;
      this.held[id] = undefined;
      const fd = this.owned[id] ?? -1;
      if (fd >= 0) {
        this.owned[id] = -1;
        native.close(fd);
      }
      this.io.send(x, this.io.body(x, this.kinds[id], res));
    });
  }

  /** True for the first read or write of this turn of the event loop. */
  private lone(): boolean {
    if (this.burst++ === 0) setImmediate(this.endBurst);
    return this.burst === 1;
  }

  read(x: Exchange, fd: number, len: number, pos: number): number {
    if (!this.lone()) return this.start(x, IoKind.Read, fd, len, pos, 0);
    const want = Math.min(len, x.rep.room);
    const r = native.preadNowait(fd, x.rep.buf, x.rep.at(0), want, pos);
    // A short read may be a partly cached range, not the end of the file: the
    // ring reads it whole (FUSE takes a short reply for end of file).
    if (r === want || (r < 0 && r !== -E.AGAIN && r !== -E.OPNOTSUPP)) {
      this.stats[C.ioInline]++;
      return this.io.body(x, IoKind.Read, r);
    }
    return this.start(x, IoKind.Read, fd, len, pos, 0);
  }

  write(x: Exchange, fd: number, len: number, pos: number): number {
    if (!this.lone()) return this.start(x, IoKind.Write, fd, len, pos, 0);
    let r = -E.OPNOTSUPP;
    if (this.writeNowait) {
      r = native.pwriteNowait(fd, x.req.buf, x.req.at(WRITE_DATA), len, pos);
      if (r === -E.AGAIN) return this.start(x, IoKind.Write, fd, len, pos, 0);
      if (r === -E.OPNOTSUPP) this.writeNowait = false;
    }
    this.stats[C.ioInline]++;
    if (r === -E.OPNOTSUPP) return this.sync.write(x, fd, len, pos);
    // The rest of a short write is written whatever it costs: a short reply would reach the application.
    let done = r;
    while (done > 0 && done < len) {
      const more = native.pwrite(fd, x.req.buf, x.req.at(WRITE_DATA) + done, len - done, pos + done);
      if (more <= 0) break;
      done += more;
    }
    return this.io.body(x, IoKind.Write, done);
  }

  fsync(x: Exchange, fd: number, dataOnly: boolean, owned = false): number {
    return this.start(x, IoKind.Fsync, fd, dataOnly ? 1 : 0, 0, 0, owned);
  }

  fallocate(x: Exchange, fd: number, mode: number, offset: number, len: number, owned = false): number {
    return this.start(x, IoKind.Fallocate, fd, mode, offset, len, owned);
  }

  /** Queue the operation on the ring (a, b, c are its arguments in the order of the public methods). */
  private start(x: Exchange, kind: IoKind, fd: number, a: number, b: number, c: number, owned = false): number {
    // An exchange whose buffer is about to be reused gets a stable copy; with none free, serve inline.
    const y = x.stable ? x : x.owner.stabilize(x);
    if (!y) return this.inline(x, kind, fd, a, b, c, owned);
    const ring = this.ring.id;
    const ud = Ring.data(RING_KIND_MEDIATED, y.id);
    let r: number;
    switch (kind) {
      case IoKind.Read: r = native.uringRead(ring, fd, y.rep.buf, y.rep.at(0), Math.min(a, y.rep.room), b, ud); break;
      case IoKind.Write: r = native.uringWrite(ring, fd, y.req.buf, y.req.at(WRITE_DATA), a, b, ud); break;
      case IoKind.Fsync: r = native.uringFsync(ring, fd, a === 1, ud); break;
      default: r = native.uringFallocate(ring, fd, a, b, c, ud); break;
    }
    if (!this.ring.prepared(r)) {
      // The ring refused (it should not): serve inline, on the copy if one was made.
      const body = this.inline(y, kind, fd, a, b, c, owned);
      if (y === x) return body;
      this.io.send(y, body);
      return PENDING;
    }
    this.held[y.id] = y;
    this.kinds[y.id] = kind;
    this.owned[y.id] = owned ? fd : -1;
    this.stats[C.ioAsync]++;
    return PENDING;
  }

  private inline(x: Exchange, kind: IoKind, fd: number, a: number, b: number, c: number, owned: boolean): number {
    switch (kind) {
      case IoKind.Read: return this.sync.read(x, fd, a, b);
      case IoKind.Write: return this.sync.write(x, fd, a, b);
      case IoKind.Fsync: return this.sync.fsync(x, fd, a === 1, owned);
      default: return this.sync.fallocate(x, fd, a, b, c, owned);
    }
  }
}
