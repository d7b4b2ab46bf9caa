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

/** Entry fields: the descriptor (this process's), the inode's slot, the flags to reopen it with; the free list's link. */
const enum E { fd = 0, slot, flags, next, STRIDE = 4 }
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

  /** A new entry for `fd`, the file of slot `slot` opened with `flags`: its index, or -1 when all are taken. */
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
      h[H.live]++;
    }
    this.table.unlock();
    return i;
  }

  /** The descriptor of entry i (-1: none; a handle the kernel should not have sent). */
  fd(i: number): number {
    return i >= 0 && i < this.capacity ? this.ints[H.LENGTH + i * E.STRIDE + E.fd] : -1;
  }

  /** Give entry i back (RELEASE); returns its descriptor, to close, or -1. */
  remove(i: number): number {
    if (i < 0 || i >= this.capacity) return -1;
    const h = this.ints;
    const b = H.LENGTH + i * E.STRIDE;
    this.table.lock();
    // Never taken, or given back already: nothing to do.
    if (i >= h[H.used] || h[b + E.slot] < 0) {
      this.table.unlock();
      return -1;
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
