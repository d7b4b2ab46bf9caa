// The memory a successor process takes over when the daemon hands its mount
// on (server/handover.ts): one memfd, passed to the successor with the
// /dev/fuse descriptor, holding a header (what the successor must know and
// cannot ask the kernel again: the INIT agreement, the generation) and the
// shared regions the workers use (the inode table, the open files). Regions
// follow the header in the order they are allocated, each at a page
// boundary; their sizes follow from the table's capacity alone, so that a
// successor allocating in the same order maps the same bytes. Because the
// workers work in this memory itself, it is current even when the daemon
// dies without warning (kill -9), and whoever kept the descriptors (systemd's
// fd store, server/systemd.ts) can start a successor on it.
import fs from 'node:fs';
import { native } from '../native/index.js';

const MAGIC = 0x70617366; // "pasf"
/** Changes whenever the layout of the header or of a region changes: a successor refuses another. */
export const STATE_LAYOUT = 3;
const HEADER_BYTES = 64 * 1024;
/** Regions start at multiples of this: a page on every kernel (4K, 16K and 64K pages). */
const PAGE = 64 * 1024;
/**
 * Byte offsets in the header. The state (JSON) has two homes, written in
 * turn: `seq` says which holds the last one whole (a crash while one is
 * written leaves the other), `len0`/`len1` their lengths.
 */
const enum Hd { magic = 0, layout = 4, capacity = 8, seq = 12, len0 = 16, len1 = 20, JSON_AT = 64, HALF = (64 * 1024 - 64) / 2 }

export class StateFile {
  private end = HEADER_BYTES;
  private readonly header: Uint8Array;
  private readonly hv: DataView;

  private constructor(readonly fd: number, readonly capacity: number, private readonly adopting: boolean, private readonly size: number) {
    const sab = native.mapShared(fd, 0, HEADER_BYTES);
    if (typeof sab === 'number') throw new Error(`mapping the state file: ${native.errnoName(-sab)}`);
    this.header = new Uint8Array(sab);
    this.hv = new DataView(sab);
  }

  /** A new state file for a table of `capacity` slots (this process's first mount). */
  static create(capacity: number): StateFile {
    const fd = native.memfdCreate('passfs-state');
    if (fd < 0) throw new Error(`memfd_create: ${native.errnoName(-fd)}`);
    const r = native.ftruncate(fd, HEADER_BYTES);
    if (r < 0) throw new Error(`sizing the state file: ${native.errnoName(-r)}`);
    const f = new StateFile(fd, capacity, false, 0);
    f.hv.setUint32(Hd.magic, MAGIC, true);
    f.hv.setUint32(Hd.layout, STATE_LAYOUT, true);
    f.hv.setUint32(Hd.capacity, capacity, true);
    return f;
  }

  /** The state file a process before left (its descriptor `fd`); throws with a one-line reason if it is not one this version can take over. */
  static adopt(fd: number): StateFile {
    // Its size as it is (a mapping past the end would fault at first touch).
    const size = fs.fstatSync(fd).size;
    if (size < HEADER_BYTES) throw new Error('the state file handed over is too small');
    const probe = new StateFile(fd, 0, true, size);
    if (probe.hv.getUint32(Hd.magic, true) !== MAGIC) throw new Error('the descriptor handed over is not a passfs state file');
    const layout = probe.hv.getUint32(Hd.layout, true);
    if (layout !== STATE_LAYOUT) throw new Error(`the state file has layout ${layout}, this passfs knows ${STATE_LAYOUT}: restart with the same version, or unmount`);
    return new StateFile(fd, probe.hv.getUint32(Hd.capacity, true), true, size);
  }

  /** The next region of `bytes` (rounded up to pages): new zeros, or, adopting, the process before's. */
  readonly allocate = (bytes: number): SharedArrayBuffer => {
    const at = this.end;
    const len = Math.ceil(bytes / PAGE) * PAGE;
    this.end += len;
    if (this.adopting) {
      if (this.end > this.size) throw new Error('the state file handed over is smaller than its table: a different capacity?');
    } else {
      const r = native.ftruncate(this.fd, this.end);
      if (r < 0) throw new Error(`sizing the state file: ${native.errnoName(-r)}`);
    }
    // Exactly `bytes` (typed arrays over it have the lengths the caller expects); the next region starts at a page.
    const sab = native.mapShared(this.fd, at, bytes);
    if (typeof sab === 'number') throw new Error(`mapping the state file: ${native.errnoName(-sab)}`);
    return sab;
  };

  /** What a successor must know (JSON), written at each change into the home not holding the last one, then made the last. */
  write(state: object): void {
    const bytes = new TextEncoder().encode(JSON.stringify(state));
    if (bytes.length > Hd.HALF) throw new Error('state too large for its header');
    const seq = this.hv.getUint32(Hd.seq, true) + 1;
    const home = seq % 2;
    this.header.set(bytes, Hd.JSON_AT + home * Hd.HALF);
    this.hv.setUint32(home ? Hd.len1 : Hd.len0, bytes.length, true);
    this.hv.setUint32(Hd.seq, seq, true);
  }

  read<T>(): T {
    const seq = this.hv.getUint32(Hd.seq, true);
    if (seq === 0) throw new Error('the state file handed over holds no state');
    // The last one written; the one before if the last was cut short.
    for (const home of [seq % 2, (seq + 1) % 2]) {
      const len = this.hv.getUint32(home ? Hd.len1 : Hd.len0, true);
      if (len === 0 || len > Hd.HALF) continue;
      try {
        return JSON.parse(new TextDecoder().decode(this.header.slice(Hd.JSON_AT + home * Hd.HALF, Hd.JSON_AT + home * Hd.HALF + len))) as T;
      } catch { /* cut short: the other one */ }
    }
    throw new Error('the state file handed over holds no readable state');
  }
}
