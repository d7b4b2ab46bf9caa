// The open files that hold a descriptor of the daemon's: mediated opens and
// directories being listed (a passthrough open holds none: the kernel has
// its backing file). A FUSE file handle names an entry here, not a
// descriptor, so that a successor process (a restart that keeps the mount,
// server/handover.ts) can reopen every entry's file from its inode's file
// handle and the open flags kept here, and serve the kernel's handles as
// they are. The memory is shared by the workers (and, through a memfd, with
// a successor); entries are taken and given back under the inode table's
// lock, and read without it (an entry is only reused after its RELEASE).
import type { InodeTable } from './inodes.js';

/** Entry fields: the descriptor (this process's), the inode's slot, the flags to reopen it with; the free list's link; its generation. */
const enum E { fd = 0, slot, flags, next, gen, STRIDE = 5 }
const TWO32 = 2 ** 32;
/**
 * A key (what a file handle carries): the entry's index in the low 32 bits,
 * its generation from bit 36 (bits 32-35 are the file handle's flags,
 * fs/opens.ts). A request sent again after a daemon died (a RELEASE the dead
 * one had done) then cannot touch the entry a later open was given.
 */
export const GEN_UNIT = 2 ** 36;
/** remove's answer for a key that names no open entry. */
export const NOT_OPEN = -2;
const GENS = 2 ** 16;
const indexOf = (key: number): number => key % TWO32;
const genOf = (key: number): number => Math.floor(key / GEN_UNIT);
/** Header: the free list's head (entry + 1; 0: empty), the entries ever used, the entries live. */
const enum H { free = 0, used, live, LENGTH = 4 }

export interface OpenFilesMemory {
  capacity: number;
  ints: SharedArrayBuffer;
}

export const openFilesBytes = (capacity: number): number => (H.LENGTH + capacity * E.STRIDE) * 4;

export function allocateOpenFiles(capacity: number, allocate: (bytes: number) => SharedArrayBuffer = (n) => new SharedArrayBuffer(n)): OpenFilesMemory {
  return { capacity, ints: allocate(openFilesBytes(capacity)) };
}

export class OpenFiles {
  readonly capacity: number;
  private readonly ints: Int32Array;

  constructor(mem: OpenFilesMemory, private readonly table: InodeTable) {
    this.capacity = mem.capacity;
    this.ints = new Int32Array(mem.ints);
  }

  /** A new entry for `fd`, the file of slot `slot` opened with `flags`: its key, or -1 when all are taken. */
  add(fd: number, slot: number, flags: number): number {
    const h = this.ints;
    this.table.lock();
    let i = h[H.free] - 1;
    if (i >= 0) h[H.free] = h[H.LENGTH + i * E.STRIDE + E.next];
    else if (h[H.used] < this.capacity) i = h[H.used]++;
    if (i >= 0) {
      const b = H.LENGTH + i * E.STRIDE;
      h[b + E.fd] = fd;
      h[b + E.slot] = slot;
      h[b + E.flags] = flags;
      h[b + E.gen] = (h[b + E.gen] % (GENS - 1)) + 1; // 1..GENS-1
      h[H.live]++;
    }
    this.table.unlock();
    return i < 0 ? -1 : i + this.ints[H.LENGTH + i * E.STRIDE + E.gen] * GEN_UNIT;
  }

  /** The descriptor of the entry `key` names (-1: none, or another open's now). */
  fd(key: number): number {
    const i = indexOf(key);
    if (key < 0 || i >= this.capacity) return -1;
    const b = H.LENGTH + i * E.STRIDE;
    return this.ints[b + E.gen] === genOf(key) ? this.ints[b + E.fd] : -1;
  }

  /** Give the entry `key` names back (RELEASE); returns its descriptor, to close (-1: it had none), or NOT_OPEN. */
  remove(key: number): number {
    const i = indexOf(key);
    if (key < 0 || i >= this.capacity) return NOT_OPEN;
    const h = this.ints;
    const b = H.LENGTH + i * E.STRIDE;
    this.table.lock();
    // Never taken, given back already, or another open's now: nothing to do.
    if (i >= h[H.used] || h[b + E.slot] < 0 || h[b + E.gen] !== genOf(key)) {
      this.table.unlock();
      return NOT_OPEN;
    }
    const fd = h[b + E.fd];
    h[b + E.fd] = -1;
    h[b + E.slot] = -1;
    h[b + E.next] = h[H.free];
    h[H.free] = i + 1;
    h[H.live]--;
    this.table.unlock();
    return fd;
  }

  /** Does `key` name an open entry (with or without a descriptor)? */
  isOpen(key: number): boolean {
    const i = indexOf(key);
    if (key < 0 || i >= this.capacity || i >= Atomics.load(this.ints, H.used)) return false;
    const b = H.LENGTH + i * E.STRIDE;
    return this.ints[b + E.slot] >= 0 && this.ints[b + E.gen] === genOf(key);
  }

  /** Entries live now. */
  live(): number {
    return Atomics.load(this.ints, H.live);
  }

  /**
   * A successor's first step (before any worker runs): every live entry's
   * descriptor belonged to the process before; `reopen(slot, flags)` gives
   * this process's (or -errno: the entry then answers EBADF-like errors
   * through its -1). Returns how many entries were reopened, and failed.
   */
  rebase(reopen: (slot: number, flags: number) => number): { reopened: number; failed: number } {
    const h = this.ints;
    let reopened = 0;
    let failed = 0;
    for (let i = 0; i < h[H.used]; i++) {
      const b = H.LENGTH + i * E.STRIDE;
      if (h[b + E.slot] < 0) continue;
      const fd = reopen(h[b + E.slot], h[b + E.flags]);
      h[b + E.fd] = fd >= 0 ? fd : -1;
      if (fd >= 0) reopened++;
      else failed++;
    }
    return { reopened, failed };
  }
}
