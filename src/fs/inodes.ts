// The inode table, shared by every worker thread.
//
// FUSE node ids belong to the connection, not to a /dev/fuse fd: a LOOKUP
// answered by one worker is followed by GETATTR, OPEN or FORGET on any other.
// So the table lives in SharedArrayBuffers and every worker maps the same
// memory. File descriptors are process-wide, so the O_PATH handle one worker
// opened is usable by all, under a pin (below).
//
// Layout: slot s is node id s + 1 (slot 0 is the root, node id 1). Per-slot
// integer fields live in `ints`, 64-bit-ish ones (dev, ino, counts) in `nums`,
// the lower inode's file handle in `handles`. An open-addressing hash index
// maps (dev, ino) -> slot so that hard links and repeated lookups of one
// lower inode share one node id.
//
// Descriptors: a slot names its inode by file handle (name_to_handle_at)
// and holds an O_PATH descriptor only while it is cached. The cache is
// bounded by the daemon's file limit (init's budget, less the descriptors
// held for open files): past it, unpinned descriptors are closed, clock
// order, and reopened by handle when next needed (fs/slotfds.ts). A slot is
// pinned while a request uses its descriptor, so that no other worker
// closes it (and the number is not reused for another file) meanwhile; a
// slot the kernel forgets while pinned is freed at its last unpin. Slots
// without a usable handle (a file system that cannot make one) keep their
// descriptor until forgotten.
//
// One lock guards the whole table. Critical sections are a few array
// accesses, so contention is negligible next to the syscalls around them.
// The lock word holds the owner's id so that the main thread can release the
// lock of a worker that died holding it.

export const enum IoMode { None = 0, Passthrough = 1, Mediated = 2 }

const enum I { fd = 0, type, opens, ioMode, backingId, openerPid, openerUid, ptWriters, ptWritable, pins, flags, handleLen, STRIDE = 12 }
/**
 * Slot flags: has a handle to reopen by (and the index of its mount fd in
 * bits 8+), used since the clock passed, forgotten while pinned, reopened by
 * handle at least once (see reopenedByHandle), in the free queue. A freed
 * slot keeps its handle bits (KEEP: handle and mount) while it waits there.
 */
const enum SF { handle = 1, used = 2, forgotten = 4, reopened = 8, queued = 16, MOUNT_SHIFT = 8, KEEP = ~0xfe }
/** Bytes per slot in `handles`: type and mount id (two int32), then the handle's bytes. */
export const HANDLE_BYTES = 64;
/** Mounts (inside LOWER) whose handles can be opened: each needs an open directory of its own. */
const MOUNTS = 32;
/** The denial memory (see addDenial): entries of (dev, ino, epoch, bits, errno), probed this far. */
const enum D { dev = 0, ino, born, bornNs, epoch, bits, errno, STRIDE = 7, ENTRIES = 1 << 14, PROBES = 8 }
const enum F { dev = 0, ino, nlookup, generation, backingClosedAt, born, bornNs, STRIDE = 7 }
const enum M { lock = 0, freeHead, inUse, waiters, limit, held, fdBudget, anyDenial, cached, unhandled, hand, reopened, evicted, mounts, freeCount, MOUNT_IDS = 16, MOUNT_FDS = MOUNT_IDS + MOUNTS, LENGTH = MOUNT_FDS + MOUNTS }

/** Descriptors always left to the cache (requests in flight pin theirs): a non-root open may not take them. */
const MIN_CACHE = 256;
/** Eviction starts this far below the budget, so that one eviction makes room for many inserts. */
const EVICT_SLACK = 64;

export interface InodeTableMemory {
  capacity: number;
  meta: SharedArrayBuffer;
  ints: SharedArrayBuffer;
  nums: SharedArrayBuffer;
  free: SharedArrayBuffer;
  index: SharedArrayBuffer;
  denials: SharedArrayBuffer;
  handles: SharedArrayBuffer;
}

/**
 * The table's memory, from `allocate` (the process's own by default; a
 * memfd a successor can take over, server/statefile.ts): regions in a fixed
 * order and of sizes that follow from the capacity alone, so that a
 * successor allocating the same way maps the same regions.
 */
export function allocateInodeTable(capacity: number, allocate: (bytes: number) => SharedArrayBuffer = (n) => new SharedArrayBuffer(n)): InodeTableMemory {
  if (capacity < 16 || (capacity & (capacity - 1)) !== 0) throw new Error('inode capacity must be a power of two >= 16');
  return {
    capacity,
    meta: allocate(M.LENGTH * 4),
    ints: allocate(capacity * I.STRIDE * 4),
    nums: allocate(capacity * F.STRIDE * 8),
    free: allocate(capacity * 4),
    index: allocate(capacity * 2 * 4),
    denials: allocate(D.ENTRIES * D.STRIDE * 8),
    handles: allocate(capacity * HANDLE_BYTES),
  };
}

export class InodeTable {
  readonly capacity: number;
  private readonly meta: Int32Array;
  private readonly ints: Int32Array;
  private readonly nums: Float64Array;
  private readonly free: Int32Array;
  private readonly index: Int32Array;
  private readonly denials: Float64Array;
  /** The slots' file handles, HANDLE_BYTES each (see handleType, handleAt). */
  readonly handles: Uint8Array;
  private readonly handleInts: Int32Array;
  private readonly mask: number;

  constructor(mem: InodeTableMemory, private readonly owner: number) {
    this.capacity = mem.capacity;
    this.meta = new Int32Array(mem.meta);
    this.ints = new Int32Array(mem.ints);
    this.nums = new Float64Array(mem.nums);
    this.free = new Int32Array(mem.free);
    this.index = new Int32Array(mem.index);
    this.denials = new Float64Array(mem.denials);
    this.handles = new Uint8Array(mem.handles);
    this.handleInts = new Int32Array(mem.handles);
    this.mask = mem.capacity * 2 - 1;
  }

  /**
   * Called once, by the main thread, before any worker starts. `limit`:
   * the most inodes to hold at once. `fdBudget`: the descriptors the table
   * and the open files may hold together (the daemon's file limit less what
   * it needs for itself); 0: no bound.
   */
  init(rootFd: number, rootDev: number, rootIno: number, limit = this.capacity, fdBudget = 0): void {
    this.meta[M.limit] = Math.min(limit, this.capacity);
    this.meta[M.fdBudget] = fdBudget;
    const cap = this.capacity;
    for (let s = 0; s < cap - 1; s++) this.free[s] = s + 1; // a queue: 1, 2, 3..., then the oldest freed
    this.meta[M.freeHead] = 0;
    this.meta[M.freeCount] = cap - 1;
    // Unused slots are all zeros (type 0: not valid), as the memory comes.
    this.fill(0, rootFd, 0o040000, rootDev, rootIno);
    this.nums[F.nlookup] = Infinity; // the root is never forgotten
    this.link(0);
  }

  /**
   * A successor process takes the table over (server/handover.ts), before
   * any of its workers runs. The node ids, lookup counts, generations,
   * handles, open counts, modes and backing ids stay (the kernel still
   * refers to them); what was the process before's goes: its lock and pins,
   * and every descriptor. Slots are reopened by handle when next used (a
   * slot without a handle cannot be, and answers ESTALE); the root gets
   * `rootFd`, each mount the directory `mountDir(mountId)` gives (-1: its
   * slots answer ESTALE), and its id in this process. A slot forgotten while the dead pinned it is
   * freed. `fdBudget` as at init (this process's file limit).
   * Returns the slots in use that cannot be reopened (no handle).
   */
  rebase(rootFd: number, mountDir: (mountId: number) => { fd: number; id: number }, fdBudget: number): number {
    const m = this.meta;
    m[M.fdBudget] = fdBudget;
    const ints = this.ints;
    Atomics.store(m, M.lock, 0);
    m[M.waiters] = 0;
    let lost = 0;
    for (let s = 1; s < this.capacity; s++) {
      const b = s * I.STRIDE;
      const type = ints[b + I.type];
      if (type === 0) continue;
      ints[b + I.fd] = -1;
      if (type < 0) continue;
      ints[b + I.pins] = 0;
      ints[b + I.flags] &= ~SF.used;
      if (ints[b + I.flags] & SF.forgotten) {
        this.release(s);
        continue;
      }
      if (!(ints[b + I.flags] & SF.handle)) lost++;
    }
    ints[I.fd] = rootFd;
    ints[I.pins] = 0;
    m[M.cached] = 1;
    m[M.unhandled] = 0;
    m[M.held] = 0;
    m[M.hand] = 0;
    // A mount's id may change (the lower root reached through a private clone has a new one in each process).
    for (let i = 0; i < m[M.mounts]; i++) {
      const { fd, id } = mountDir(m[M.MOUNT_IDS + i]);
      m[M.MOUNT_FDS + i] = fd;
      m[M.MOUNT_IDS + i] = id;
    }
    return lost;
  }

  /** Descriptors held for open files (after a takeover: the open files reopened). */
  setHeld(n: number): void {
    Atomics.store(this.meta, M.held, n);
  }

  // ---- locking ----------------------------------------------------------------
  lock(): void {
    const meta = this.meta;
    for (let spins = 0; ; spins++) {
      const cur = Atomics.compareExchange(meta, M.lock, 0, this.owner);
      if (cur === 0) return;
      if (spins > 64) {
        // Counted, so that unlock wakes only when someone sleeps. If the
        // holder unlocked before seeing the count, the lock word is no
        // longer `cur` and the wait returns at once. (A worker killed while
        // asleep here leaves the count up: unlocks then always notify.)
        Atomics.add(meta, M.waiters, 1);
        Atomics.wait(meta, M.lock, cur, 1);
        Atomics.sub(meta, M.waiters, 1);
      }
    }
  }

  unlock(): void {
    Atomics.store(this.meta, M.lock, 0);
    // Notify only when someone sleeps: Atomics.notify is not free even with
    // nobody waiting, there is an unlock in most requests, and contention
    // is rare.
    if (Atomics.load(this.meta, M.waiters) !== 0) Atomics.notify(this.meta, M.lock, 1);
  }

  /** Release the lock if `owner` (a dead worker) holds it. Returns true if it did. */
  breakLock(owner: number): boolean {
    if (Atomics.compareExchange(this.meta, M.lock, owner, 0) !== owner) return false;
    Atomics.notify(this.meta, M.lock, 1);
    return true;
  }

  // ---- lookups (caller holds the lock) -------------------------------------------
  /** The slot holding (dev, ino), or -1 (a forgotten inode's slot waiting in the free queue counts as none). */
  find(dev: number, ino: number): number {
    const s = this.findAny(dev, ino);
    return s >= 0 && this.ints[s * I.STRIDE + I.type] > 0 ? s : -1;
  }

  /**
   * find, for a file whose birth time is known (btime; 0: unknown, then as
   * find): a slot in use for that number but born at another time is a
   * deleted inode's whose number the lower fs gave a new file (possible once
   * the slot holds no descriptor: evicted, or after a takeover). It leaves
   * the index (the kernel keeps its node id, which answers ESTALE), and -1
   * says to make the new file a slot of its own.
   */
  findBorn(dev: number, ino: number, born: number, bornNs: number): number {
    const s = this.find(dev, ino);
    if (s < 0 || born === 0) return s;
    const f = s * F.STRIDE;
    // (A slot whose birth is unknown, the root's say, is taken as it is.)
    if (this.nums[f + F.born] === 0 || (this.nums[f + F.born] === born && this.nums[f + F.bornNs] === bornNs)) return s;
    this.unlink(s);
    return -1;
  }

  /** The slot indexed for (dev, ino), in use or forgotten, or -1. */
  private findAny(dev: number, ino: number): number {
    const index = this.index;
    const mask = this.mask;
    for (let h = hash(dev, ino) & mask; ; h = (h + 1) & mask) {
      const v = index[h];
      if (v === 0) return -1;
      const s = v - 1;
      const b = s * F.STRIDE;
      if (this.nums[b + F.ino] === ino && this.nums[b + F.dev] === dev) return s;
    }
  }

  /**
   * Slots kept for root: no other user can fill the table so far that root's
   * own lookups fail (1/64 of it, at least 16).
   */
  get reserve(): number { return Math.max(16, this.limit >> 6); }
  /**
   * Descriptors held for open files (a mediated open's file, a directory
   * being listed; a passthrough open holds none), counted so that no user
   * but root can open the last of them: may a caller (root or not) take one
   * more? With no budget given at init, always.
   */
  roomForOpen(root: boolean): boolean {
    const budget = this.meta[M.fdBudget];
    if (budget <= 0 || root) return true;
    return Atomics.load(this.meta, M.held) < budget - this.fdReserve - MIN_CACHE;
  }
  /** Descriptors of the budget kept for root (1/64, at least 16). */
  private get fdReserve(): number { return Math.max(16, this.meta[M.fdBudget] >> 6); }
  /**
   * May a caller (root or not) make the table hold one more descriptor?
   * (Caller holds the lock.) When not, evict (below) and ask again.
   */
  roomForFd(root: boolean): boolean {
    const budget = this.meta[M.fdBudget];
    return budget <= 0 || this.meta[M.cached] + Atomics.load(this.meta, M.held) < budget - (root ? 0 : this.fdReserve);
  }
  /** The descriptors the table and the open files may hold together (0: no bound). */
  get fdBudget(): number { return this.meta[M.fdBudget]; }
  /** Descriptors the table holds (cached O_PATH handles). */
  cachedFds(): number { return this.meta[M.cached]; }
  /** Counts for status: descriptors reopened by handle, and closed to stay within the budget. */
  reopens(): number { return Atomics.load(this.meta, M.reopened); }
  evictions(): number { return Atomics.load(this.meta, M.evicted); }

  // ---- descriptors (caller holds the lock) --------------------------------------------
  /** Slot s's descriptor, pinned until unpin(s); -1 if it has none cached (reopen it by handle, then install). */
  pin(s: number): number {
    const b = s * I.STRIDE;
    const fd = this.ints[b + I.fd];
    if (fd < 0 || this.ints[b + I.type] <= 0) return -1;
    this.ints[b + I.pins]++;
    this.ints[b + I.flags] |= SF.used;
    return fd;
  }

  /**
   * Unpin; returns a descriptor to close when this was the last pin of a
   * slot the kernel forgot meanwhile (the slot is then free), else -1.
   */
  unpin(s: number): number {
    const b = s * I.STRIDE;
    if (this.ints[b + I.pins] <= 0) return -1; // not pinned: nothing to undo (never below zero)
    if (--this.ints[b + I.pins] > 0 || !(this.ints[b + I.flags] & SF.forgotten)) return -1;
    return this.release(s);
  }

  /**
   * Put `fd` (slot s's inode, reopened by handle) in the slot, pinned.
   * Returns the descriptor now pinned: `fd`, or the one another worker
   * installed first (close `fd` then).
   */
  install(s: number, fd: number): number {
    const b = s * I.STRIDE;
    if (this.ints[b + I.fd] < 0) {
      this.ints[b + I.fd] = fd;
      this.ints[b + I.flags] |= SF.reopened;
      this.meta[M.cached]++;
      Atomics.add(this.meta, M.reopened, 1);
    }
    return this.pin(s);
  }

  /**
   * Would eviction find work: does the table hold more descriptors than its
   * share of the budget, and enough of them with handles to reopen by (the
   * others cannot be evicted: no scan for them)?
   */
  overBudget(): boolean {
    const budget = this.meta[M.fdBudget];
    return budget > 0 && this.meta[M.cached] + Atomics.load(this.meta, M.held) > budget - this.fdReserve - EVICT_SLACK &&
      this.meta[M.cached] - this.meta[M.unhandled] > EVICT_SLACK;
  }

  /**
   * Take up to out.length unpinned descriptors of slots with handles out of
   * their slots (which keep the handles), in clock order; returns how many
   * were put in `out` for the caller to close after unlocking. A slot used
   * since the clock last passed is spared once; the scan stops after a round
   * that found nothing it could take or spare (all pinned: requests in flight).
   */
  evict(out: Int32Array): number {
    const cap = this.capacity;
    const meta = this.meta;
    let n = 0;
    let h = meta[M.hand];
    let spared = 0;
    for (let scanned = 0; n < out.length; scanned++) {
      if (scanned === cap) {
        if (spared === 0) break;
        scanned = spared = 0;
      }
      h = h + 1 < cap ? h + 1 : 1; // never the root
      const b = h * I.STRIDE;
      const fd = this.ints[b + I.fd];
      const f = this.ints[b + I.flags];
      if (fd < 0 || this.ints[b + I.type] <= 0 || this.ints[b + I.pins] > 0 || !(f & SF.handle)) continue;
      if (f & SF.used) { this.ints[b + I.flags] = f & ~SF.used; spared++; continue; }
      this.ints[b + I.fd] = -1;
      out[n++] = fd;
    }
    meta[M.hand] = h;
    meta[M.cached] -= n;
    Atomics.add(meta, M.evicted, n);
    return n;
  }

  // ---- file handles ------------------------------------------------------------------
  /** Give slot s a handle: `from` as nameToHandle wrote it (8 + `len` bytes), opened with mount fd index `mount`. */
  setHandle(s: number, from: Uint8Array, len: number, mount: number): void {
    this.handles.set(from.subarray(0, 8 + len), s * HANDLE_BYTES);
    const b = s * I.STRIDE;
    if (!(this.ints[b + I.flags] & SF.handle) && this.ints[b + I.fd] >= 0) this.meta[M.unhandled]--;
    this.ints[b + I.handleLen] = len;
    this.ints[b + I.flags] = (this.ints[b + I.flags] & 0xff) | SF.handle | (mount << SF.MOUNT_SHIFT);
  }
  /**
   * Was slot s's descriptor ever reopened by handle? Then the kernel may
   * not know the path of a non-directory (a disconnected dentry: readlink of
   * /proc/self/fd names it "/name"), and a path taken from it must be checked
   * (LowerPaths.relative's `verify`).
   */
  reopenedByHandle(s: number): boolean { return (this.ints[s * I.STRIDE + I.flags] & SF.reopened) !== 0; }
  /** Slot s's handle: its bytes are handles[handleAt(s), + handleLen(s)), -1 if it has none. */
  handleLen(s: number): number { return this.ints[s * I.STRIDE + I.flags] & SF.handle ? this.ints[s * I.STRIDE + I.handleLen] : -1; }
  handleAt(s: number): number { return s * HANDLE_BYTES + 8; }
  handleType(s: number): number { return this.handleInts[s * (HANDLE_BYTES >> 2)]; }
  /** The open directory to open slot s's handle with (open_by_handle_at's mount fd). */
  mountFdOf(s: number): number { return this.meta[M.MOUNT_FDS + (this.ints[s * I.STRIDE + I.flags] >>> SF.MOUNT_SHIFT)]; }
  /** The mount fd index of a mount id, -1 if none is known (read without the lock: entries are only ever added). */
  mountIndex(mountId: number): number {
    const n = Atomics.load(this.meta, M.mounts);
    for (let i = 0; i < n; i++) if (this.meta[M.MOUNT_IDS + i] === mountId) return i;
    return -1;
  }
  /**
   * Add a mount's directory fd (caller holds the lock): its index, or -1
   * when the mount was added meanwhile (close `fd`; ask mountIndex again)
   * or no room is left (close it; that mount's slots keep their descriptors).
   */
  addMount(mountId: number, fd: number): number {
    if (this.mountIndex(mountId) >= 0) return -1;
    const n = this.meta[M.mounts];
    if (n >= MOUNTS) return -1;
    this.meta[M.MOUNT_IDS + n] = mountId;
    this.meta[M.MOUNT_FDS + n] = fd;
    Atomics.store(this.meta, M.mounts, n + 1);
    return n;
  }
  addHeld(n: number): void { Atomics.add(this.meta, M.held, n); }
  heldFds(): number { return Atomics.load(this.meta, M.held); }

  /** The most inodes held at once (init). */
  get limit(): number { return this.meta[M.limit] || this.capacity; }

  /**
   * Take a slot for a new inode; -1 when the table is full (for others than
   * root: when only the reserve is left). An inode the kernel forgot whose
   * slot has not been reused yet (free slots are reused oldest first) gets
   * that slot back, with its node id and generation: file handles the
   * kernel gave out for it stay good (fuse/init.ts, EXPORT_SUPPORT).
   */
  insert(fd: number, type: number, dev: number, ino: number, root = true, born = 0, bornNs = 0): number {
    const room = Math.min(this.meta[M.freeCount], this.limit - this.meta[M.inUse]);
    if (room <= 0 || (!root && room <= this.reserve)) return -1;
    const z = this.findAny(dev, ino);
    if (z >= 0) {
      const f = z * F.STRIDE;
      if (this.nums[f + F.born] === born && this.nums[f + F.bornNs] === bornNs) {
        this.revive(z, fd, type);
        return z;
      }
      // Another file with the number of a forgotten one: that slot leaves the index (it stays queued, free).
      this.unlink(z);
      this.ints[z * I.STRIDE + I.type] = 0;
    }
    const s = this.pop();
    if (s < 0) return -1;
    this.meta[M.inUse]++;
    this.fill(s, fd, type, dev, ino);
    if (fd >= 0) {
      this.meta[M.cached]++;
      this.meta[M.unhandled]++; // until setHandle
    }
    this.nums[s * F.STRIDE + F.generation]++;
    // Which inode of that number this is (its birth time, or another time that tells two apart): see denialOf.
    this.nums[s * F.STRIDE + F.born] = born;
    this.nums[s * F.STRIDE + F.bornNs] = bornNs;
    this.link(s);
    return s;
  }

  /**
   * A forgotten inode's slot `s` in use again (caller checked it is one: see
   * insert, reviveSlot), with descriptor `fd`; its handle, node id and
   * generation are kept.
   */
  private revive(s: number, fd: number, type: number): void {
    const b = s * I.STRIDE;
    const keep = this.ints[b + I.flags] & (SF.KEEP | SF.queued);
    const len = this.ints[b + I.handleLen];
    this.meta[M.inUse]++;
    this.fill(s, fd, type, this.nums[s * F.STRIDE + F.dev], this.nums[s * F.STRIDE + F.ino]);
    this.ints[b + I.flags] = keep;
    this.ints[b + I.handleLen] = len;
    if (fd >= 0) {
      this.meta[M.cached]++;
      if (!(keep & SF.handle)) this.meta[M.unhandled]++; // until setHandle
    }
  }

  /**
   * The kernel asks for node `s` by a file handle it gave out (LOOKUP of
   * "."), with `fd` reopened from the slot's handle: if the slot is still
   * that forgotten inode's (generation `gen`), it is in use again and counts
   * this lookup. Caller holds the lock; false: close `fd`.
   */
  reviveSlot(s: number, gen: number, fd: number, root = true): boolean {
    const b = s * I.STRIDE;
    const type = this.ints[b + I.type];
    // The root reserve holds here too: a handle can be forged (node id, generation) by anyone who may decode one.
    const room = this.limit - this.meta[M.inUse];
    if (type >= 0 || this.generation(s) !== gen || room <= 0 || (!root && room <= this.reserve)) return false;
    this.revive(s, fd, -type);
    this.ints[b + I.flags] |= SF.reopened; // by handle: its path must be checked (reopenedByHandle)
    return true;
  }

  /** Is slot s a forgotten inode's, its handle kept (reviveSlot may bring it back)? */
  forgotten(s: number): boolean {
    return s > 0 && s < this.capacity && this.ints[s * I.STRIDE + I.type] < 0 && (this.ints[s * I.STRIDE + I.flags] & SF.handle) !== 0;
  }

  /** The free slot the next new inode gets (tests). */
  nextFree(): number {
    const m = this.meta;
    for (let i = 0; i < m[M.freeCount]; i++) {
      const s = this.free[(m[M.freeHead] + i) % this.capacity];
      if (this.ints[s * I.STRIDE + I.type] <= 0) return s;
    }
    return -1;
  }

  /** The oldest free slot off the queue (one revived since it was queued is passed over); -1 if none. */
  private pop(): number {
    const m = this.meta;
    const cap = this.capacity;
    while (m[M.freeCount] > 0) {
      const s = this.free[m[M.freeHead]];
      m[M.freeHead] = (m[M.freeHead] + 1) % cap;
      m[M.freeCount]--;
      const b = s * I.STRIDE;
      this.ints[b + I.flags] &= ~SF.queued;
      const type = this.ints[b + I.type];
      if (type > 0) continue;
      if (type < 0) this.unlink(s); // a forgotten inode's: out of the index now that the slot is reused
      return s;
    }
    return -1;
  }

  /** Queue slot s as free (once: a slot revived while queued is still there). */
  private push(s: number): void {
    const b = s * I.STRIDE;
    if (this.ints[b + I.flags] & SF.queued) return;
    const m = this.meta;
    this.free[(m[M.freeHead] + m[M.freeCount]) % this.capacity] = s;
    m[M.freeCount]++;
    this.ints[b + I.flags] |= SF.queued;
  }

  /**
   * Drop `n` lookups; when none remain, free the slot and return its O_PATH
   * fd (to close), else -1. A pinned slot is freed at its last unpin.
   */
  forget(s: number, n: number): number {
    const b = s * F.STRIDE;
    const left = this.nums[b + F.nlookup] - n;
    if (left > 0 || s === 0) {
      this.nums[b + F.nlookup] = Math.max(left, 0);
      return -1;
    }
    this.nums[b + F.nlookup] = 0;
    if (this.ints[s * I.STRIDE + I.pins] > 0) {
      this.ints[s * I.STRIDE + I.flags] |= SF.forgotten;
      return -1;
    }
    return this.release(s);
  }

  /**
   * Free slot s (no lookups, no pins left): returns its descriptor to close,
   * or -1. The slot keeps its inode's identity, handle and generation, and
   * its place in the index, until it is reused (type negated: forgotten).
   */
  private release(s: number): number {
    const b = s * I.STRIDE;
    const fd = this.ints[b + I.fd];
    if (fd >= 0) {
      this.meta[M.cached]--;
      if (!(this.ints[b + I.flags] & SF.handle)) this.meta[M.unhandled]--;
    }
    const type = this.ints[b + I.type];
    const flags = this.ints[b + I.flags];
    const len = this.ints[b + I.handleLen];
    this.ints.fill(-1, b, b + I.STRIDE);
    this.ints[b + I.type] = -type;
    this.ints[b + I.pins] = 0;
    this.ints[b + I.flags] = flags & (SF.KEEP | SF.queued);
    this.ints[b + I.handleLen] = len;
    this.push(s);
    this.meta[M.inUse]--;
    return fd;
  }

  // ---- fields ----------------------------------------------------------------------
  valid(s: number): boolean { return s >= 0 && s < this.capacity && this.ints[s * I.STRIDE + I.type] > 0; }
  /** Slot s's cached descriptor (-1: none now). Only under a pin (fs/slotfds.ts) may it be used. */
  fd(s: number): number { return this.ints[s * I.STRIDE + I.fd]; }
  type(s: number): number { return this.ints[s * I.STRIDE + I.type]; }
  /** Does slot s hold the inode (dev, ino)? */
  isInode(s: number, dev: number, ino: number): boolean {
    const f = s * F.STRIDE;
    return this.nums[f + F.ino] === ino && this.nums[f + F.dev] === dev;
  }
  generation(s: number): number { return this.nums[s * F.STRIDE + F.generation]; }
  addLookup(s: number, n = 1): void {
    this.nums[s * F.STRIDE + F.nlookup] += n;
    this.ints[s * I.STRIDE + I.flags] &= ~SF.forgotten; // looked up again before its last unpin
  }
  nlookup(s: number): number { return this.nums[s * F.STRIDE + F.nlookup]; }
  /** When the inode's last passthrough open ended (ms since the epoch; 0: never). */
  backingClosedAt(s: number): number { return this.nums[s * F.STRIDE + F.backingClosedAt]; }
  inUse(): number { return this.meta[M.inUse]; }

  // Per-inode I/O mode, shared by all opens (the kernel's rule: one mode per inode).
  opens(s: number): number { return this.ints[s * I.STRIDE + I.opens]; }
  ioMode(s: number): IoMode { return this.ints[s * I.STRIDE + I.opens] > 0 ? this.ints[s * I.STRIDE + I.ioMode] : IoMode.None; }
  backingId(s: number): number { return this.ints[s * I.STRIDE + I.backingId]; }

  /**
   * Passthrough opens for writing by callers who cannot keep suid/sgid (not
   * root): their writes never reach the daemon, so while there are any, the
   * file must not gain those bits (see Mirror.setattr).
   */
  ptWriters(s: number): number { return Math.max(0, this.ints[s * I.STRIDE + I.ptWriters]); }
  addPtWriter(s: number, n: number): void {
    const b = s * I.STRIDE + I.ptWriters;
    this.ints[b] = Math.max(0, this.ints[b]) + n;
  }

  /**
   * Passthrough opens for writing, by anyone: their writes through a shared
   * mapping change the lower file's times without the kernel's FUSE inode
   * knowing, so while there are any, its attributes are not cached (Mirror.attrMs).
   * Read without the lock: a count, one aligned word.
   */
  ptWritable(s: number): number { return Math.max(0, this.ints[s * I.STRIDE + I.ptWritable]); }
  addPtWritable(s: number, n: number): void {
    const b = s * I.STRIDE + I.ptWritable;
    this.ints[b] = Math.max(0, this.ints[b]) + n;
  }

  /**
   * What the policy denied for the inode of slot `s` under any of its names
   * (fs/decisions.ts): access bits (1 read, 2 write) under the policy of
   * `epoch` (another policy's memory does not count); the errno is then in
   * `deniedErrno`. Kept by (dev, ino), apart from the slots, so that it
   * outlives the kernel forgetting the inode between two names' lookups;
   * a bounded memory (D.ENTRIES): when a probe run is full, its first entry is replaced.
   */
  deniedBits(s: number, epoch: number): number {
    const e = this.denialOf(s, epoch, false);
    if (e < 0) return 0;
    this.deniedErrno = this.denials[e + D.errno];
    return this.denials[e + D.bits];
  }
  deniedErrno = 0;
  /** Was anything ever denied per inode? (Read without the lock: until then opens need not look.) */
  anyDenial(): boolean { return Atomics.load(this.meta, M.anyDenial) !== 0; }
  addDenial(s: number, epoch: number, bits: number, errno: number): void {
    Atomics.store(this.meta, M.anyDenial, 1);
    const e = this.denialOf(s, epoch, true);
    const d = this.denials;
    d[e + D.bits] = (d[e + D.epoch] === epoch ? d[e + D.bits] : 0) | bits;
    d[e + D.epoch] = epoch;
    d[e + D.errno] = errno;
  }

  /** The memory entry of slot s's inode (-1 if none), or with `take` one to write it in. */
  private denialOf(s: number, epoch: number, take: boolean): number {
    const f = s * F.STRIDE;
    const dev = this.nums[f + F.dev];
    const ino = this.nums[f + F.ino];
    const born = this.nums[f + F.born];
    const bornNs = this.nums[f + F.bornNs];
    const d = this.denials;
    const h = hash(dev, ino) & (D.ENTRIES - 1);
    let free = -1;
    for (let i = 0; i < D.PROBES; i++) {
      const e = ((h + i) & (D.ENTRIES - 1)) * D.STRIDE;
      if (d[e + D.ino] === ino && d[e + D.dev] === dev && d[e + D.epoch] !== 0) {
        // Another file that got the number of a remembered one (deleted since) is not it.
        const same = d[e + D.born] === born && d[e + D.bornNs] === bornNs;
        if (take) {
          if (!same) d[e + D.epoch] = 0;
          d[e + D.born] = born;
          d[e + D.bornNs] = bornNs;
          return e;
        }
        return same && d[e + D.epoch] === epoch ? e : -1;
      }
      if (free < 0 && d[e + D.epoch] !== epoch) free = e;
    }
    if (!take) return -1;
    const e = free >= 0 ? free : h * D.STRIDE;
    d[e + D.dev] = dev;
    d[e + D.ino] = ino;
    d[e + D.born] = born;
    d[e + D.bornNs] = bornNs;
    d[e + D.epoch] = 0;
    d[e + D.bits] = 0;
    return e;
  }

  /** Count one more open in `mode` (and remember the backing id of a first passthrough open). */
  addOpen(s: number, mode: IoMode, backingId = -1, pid = 0, uid = 0): void {
    const b = s * I.STRIDE;
    this.ints[b + I.openerPid] = pid;
    this.ints[b + I.openerUid] = uid;
    if (this.ints[b + I.opens] <= 0) {
      this.ints[b + I.opens] = 0;
      this.ints[b + I.ioMode] = mode;
      this.ints[b + I.backingId] = backingId;
    }
    this.ints[b + I.opens]++;
  }

  /**
   * Count one release. When the last open goes, returns the backing id to
   * close (if the inode was in passthrough); otherwise 0.
   */
  dropOpen(s: number): number {
    const b = s * I.STRIDE;
    if (--this.ints[b + I.opens] > 0) return 0;
    this.ints[b + I.opens] = 0;
    const id = this.ints[b + I.backingId];
    this.ints[b + I.backingId] = -1;
    this.ints[b + I.ioMode] = IoMode.None;
    if (id > 0) this.nums[s * F.STRIDE + F.backingClosedAt] = Date.now();
    return id > 0 ? id : 0;
  }

  /** The inodes open right now (for status; read without the lock, so a snapshot at best). */
  openInodes(): { nodeid: number; generation: number; mode: IoMode; opens: number; pid: number; uid: number }[] {
    const out = [];
    for (let s = 0; s < this.capacity; s++) {
      const b = s * I.STRIDE;
      if (this.ints[b + I.type] > 0 && this.ints[b + I.opens] > 0) {
        out.push({ nodeid: s + 1, generation: this.nums[s * F.STRIDE + F.generation], mode: this.ints[b + I.ioMode] as IoMode, opens: this.ints[b + I.opens], pid: this.ints[b + I.openerPid], uid: this.ints[b + I.openerUid] });
      }
    }
    return out;
  }

  // ---- internals -----------------------------------------------------------------------
  private fill(s: number, fd: number, type: number, dev: number, ino: number): void {
    const b = s * I.STRIDE;
    this.ints.fill(-1, b, b + I.STRIDE);
    this.ints[b + I.fd] = fd;
    this.ints[b + I.type] = type;
    this.ints[b + I.opens] = 0;
    this.ints[b + I.pins] = 0;
    this.ints[b + I.flags] = 0;
    this.ints[b + I.ioMode] = IoMode.None;
    const f = s * F.STRIDE;
    this.nums[f + F.dev] = dev;
    this.nums[f + F.ino] = ino;
    this.nums[f + F.nlookup] = 1;
  }

  private link(s: number): void {
    const b = s * F.STRIDE;
    const mask = this.mask;
    let h = hash(this.nums[b + F.dev], this.nums[b + F.ino]) & mask;
    while (this.index[h] !== 0) h = (h + 1) & mask;
    this.index[h] = s + 1;
  }

  /** Remove slot s from the index: linear probing with backward-shift deletion (no tombstones). */
  private unlink(s: number): void {
    const index = this.index;
    const mask = this.mask;
    const b = s * F.STRIDE;
    let i = hash(this.nums[b + F.dev], this.nums[b + F.ino]) & mask;
    while (index[i] !== s + 1) {
      if (index[i] === 0) return;
      i = (i + 1) & mask;
    }
    for (let j = (i + 1) & mask; index[j] !== 0; j = (j + 1) & mask) {
      const o = (index[j] - 1) * F.STRIDE;
      const home = hash(this.nums[o + F.dev], this.nums[o + F.ino]) & mask;
      // Move entry j into the hole at i if its home position is not in (i, j].
      const between = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!between) {
        index[i] = index[j];
        i = j;
      }
    }
    index[i] = 0;
  }
}

function hash(dev: number, ino: number): number {
  const lo = ino >>> 0;
  const hi = Math.floor(ino / 4294967296) >>> 0;
  return (Math.imul(lo ^ Math.imul(hi, 0x27d4eb2d), 0x9e3779b1) ^ Math.imul(dev >>> 0, 0x85ebca77)) >>> 0;
}
