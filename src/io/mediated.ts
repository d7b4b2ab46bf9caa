// How mediated READ, WRITE, FSYNC and FALLOCATE reach the lower file.
//
// SyncEngine: pread/pwrite inline, the reply goes out before the next request
// is read. AsyncEngine: the operation becomes an io_uring SQE, many are in
// flight per worker, submitted in batches; the reply is sent when the
// completion arrives. Both fill the same reply formats through `complete`.
import { native } from '../native/index.js';
import { Exchange, PENDING } from '../server/transports/transport.js';
import { Ring } from './ring.js';

export const enum IoKind { Read = 1, Write, Fsync, Fallocate }

/** Finishes the reply of an exchange once its I/O result is known; returns the reply length. */
export type Complete = (x: Exchange, kind: IoKind, res: number) => number;

export interface MediatedEngine {
  readonly name: 'sync' | 'async';
  /** Each returns a reply length, or PENDING (the reply is sent on completion). */
  read(x: Exchange, fd: number, len: number, pos: number): number;
  write(x: Exchange, fd: number, len: number, pos: number): number;
  fsync(x: Exchange, fd: number, dataOnly: boolean): number;
  fallocate(x: Exchange, fd: number, mode: number, offset: number, len: number): number;
}

/** Offset of WRITE data after the in-header: the fuse_write_in struct. */
const WRITE_DATA = 40;

export class SyncEngine implements MediatedEngine {
  readonly name = 'sync';
  constructor(private readonly complete: Complete) {}

  read(x: Exchange, fd: number, len: number, pos: number): number {
    return this.complete(x, IoKind.Read, native.pread(fd, x.rep.buf, x.rep.at(0), Math.min(len, x.rep.room), pos));
  }

  write(x: Exchange, fd: number, len: number, pos: number): number {
    return this.complete(x, IoKind.Write, native.pwrite(fd, x.req.buf, x.req.at(WRITE_DATA), len, pos));
  }

  fsync(x: Exchange, fd: number, dataOnly: boolean): number {
    return this.complete(x, IoKind.Fsync, native.fsync(fd, dataOnly));
  }

  fallocate(x: Exchange, fd: number, mode: number, offset: number, len: number): number {
    return this.complete(x, IoKind.Fallocate, native.fallocate(fd, mode, offset, len));
  }
}

/** The ring kind under which this engine's completions arrive. */
export const RING_KIND_MEDIATED = 1;

export class AsyncEngine implements MediatedEngine {
  readonly name = 'async';
  /** In-flight exchanges and their kind, by exchange id (small integers: arrays, no per-request objects). */
  private readonly held: (Exchange | undefined)[] = [];
  private readonly kinds: IoKind[] = [];
  private count = 0;
  private readonly sync: SyncEngine;

  constructor(private readonly ring: Ring, private readonly complete: Complete) {
    this.sync = new SyncEngine(complete);
    ring.on(RING_KIND_MEDIATED, (id, res) => {
      const x = this.held[id];
      if (!x) return;
      this.held[id] = undefined;
      this.count--;
      x.owner.send(x, this.complete(x, this.kinds[id], res));
    });
  }

  read(x: Exchange, fd: number, len: number, pos: number): number {
    return this.start(x, IoKind.Read, fd, len, pos, 0);
  }

  write(x: Exchange, fd: number, len: number, pos: number): number {
    return this.start(x, IoKind.Write, fd, len, pos, 0);
  }

  fsync(x: Exchange, fd: number, dataOnly: boolean): number {
    return this.start(x, IoKind.Fsync, fd, dataOnly ? 1 : 0, 0, 0);
  }

  fallocate(x: Exchange, fd: number, mode: number, offset: number, len: number): number {
    return this.start(x, IoKind.Fallocate, fd, mode, offset, len);
  }

  get inFlight(): number {
    return this.count;
  }

  /** Queue the operation on the ring (a, b, c are its arguments in the order of the public methods). */
  private start(x: Exchange, kind: IoKind, fd: number, a: number, b: number, c: number): number {
    // An exchange whose buffer is about to be reused gets a stable copy; with none free, serve inline.
    const y = x.stable ? x : x.owner.stabilize(x);
    if (!y) return this.inline(x, kind, fd, a, b, c);
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
      const len = this.inline(y, kind, fd, a, b, c);
      if (y === x) return len;
      y.owner.send(y, len);
      return 0;
    }
    this.held[y.id] = y;
    this.kinds[y.id] = kind;
    this.count++;
    return PENDING;
  }

  private inline(x: Exchange, kind: IoKind, fd: number, a: number, b: number, c: number): number {
    switch (kind) {
      case IoKind.Read: return this.sync.read(x, fd, a, b);
      case IoKind.Write: return this.sync.write(x, fd, a, b);
      case IoKind.Fsync: return this.sync.fsync(x, fd, a === 1);
      default: return this.sync.fallocate(x, fd, a, b, c);
    }
  }
}
