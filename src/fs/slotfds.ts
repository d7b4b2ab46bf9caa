// The descriptors of the inode table's slots, as one worker uses them.
//
// A slot holds an O_PATH descriptor only while the table's bounded cache
// keeps it (inodes.ts): a million inodes the kernel remembers cannot each
// hold one under a file limit of a few thousand. Every use of a slot's
// descriptor goes through get(), which pins it for the rest of the request
// (no other worker closes it meanwhile, so its number cannot come to name
// another file) and reopens it by file handle if the cache let it go; the
// dispatcher calls done() after each request. A new inode's handle is made
// once, when it enters the table (describe).
import { Native, St } from '../native/index.js';
import { E, O, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW } from '../native/linux.js';
import { HANDLE_BYTES, InodeTable } from './inodes.js';

export class SlotFds {
  /** Slots this request pinned (a slot pinned twice appears twice). */
  private pinned = new Int32Array(64);
  private count = 0;
  private readonly closing = new Int32Array(64);
  /** describe's result: the handle (as nameToHandle writes it) and its mount's index. */
  readonly handle = new Uint8Array(HANDLE_BYTES);
  private readonly handleIds = new Int32Array(this.handle.buffer, 0, 2);
  mount = -1;
  private readonly st = new Float64Array(St.LENGTH);

  /** `onReopen`: called for each descriptor reopened by handle and installed (the mirror marks directories for the watch). */
  constructor(private readonly sys: Native, private readonly table: InodeTable, private readonly onReopen?: (s: number, fd: number) => void) {}

  /**
   * Slot s's descriptor for the rest of this request, or -errno when its
   * inode can no longer be opened by handle (-ESTALE: deleted, and held
   * open by nobody) or the slot is free. `generation`: for a slot the
   * kernel does not hold for this request (found by name, or from a record),
   * the generation it had then: -ESTALE if the slot has since been reused.
   */
  get(s: number, generation = -1): number {
    const t = this.table;
    t.lock();
    const gen = t.valid(s) ? t.generation(s) : -1;
    let fd = gen >= 0 && (generation < 0 || gen === generation) ? t.pin(s) : -2;
    t.unlock();
    if (fd === -2) return -E.STALE;
    if (fd < 0) {
      fd = this.reopen(s, gen);
      if (fd < 0) return fd;
    }
    this.keep(s);
    return fd;
  }

  /** Pin slot s, whose descriptor is cached, for this request (caller holds the table's lock). */
  pinLocked(s: number): number {
    const fd = this.table.pin(s);
    if (fd >= 0) this.keep(s);
    return fd;
  }

  /** After each request: unpin what it pinned (and close what a forget left to the last unpin). */
  done(): void {
    const n = this.count;
    if (n === 0) return;
    this.count = 0;
    const t = this.table;
    // Unpinned a batch at a time, closed after each, with the lock released.
    for (let from = 0; from < n; from += this.closing.length) {
      let closes = 0;
      t.lock();
      for (let i = from; i < n && i < from + this.closing.length; i++) {
        const fd = t.unpin(this.pinned[i]);
        if (fd >= 0) this.closing[closes++] = fd;
      }
      t.unlock();
      for (let i = 0; i < closes; i++) this.sys.close(this.closing[i]);
    }
  }

  /**
   * May this caller make the table hold one more descriptor (a new inode)?
   * Evicts first when the budget is spent.
   */
  room(root: boolean): boolean {
    const t = this.table;
    if (t.roomForFd(root)) return true;
    this.trim();
    return t.roomForFd(root);
  }

  /** Close cached descriptors while the table holds more than its budget allows. */
  trim(): void {
    const t = this.table;
    if (!t.overBudget()) return; // read without the lock: a hint, checked again under it
    t.lock();
    const n = t.overBudget() ? t.evict(this.closing) : 0;
    t.unlock();
    for (let i = 0; i < n; i++) this.sys.close(this.closing[i]);
  }

  /**
   * Make the handle of a new inode's descriptor `fd` (into `handle`, its
   * mount's index into `mount`) for table.setHandle. `pfd`: the parent
   * directory, on the same mount unless the inode is a mount's root.
   * Returns the handle's length, -1 if it cannot have one (its slot then
   * keeps its descriptor).
   */
  describe(fd: number, isDir: boolean, mountRoot: boolean, pfd: number): number {
    const { sys, table } = this;
    const len = sys.nameToHandle(fd, this.handle, 0, HANDLE_BYTES);
    if (len <= 0) return -1;
    const mountId = this.handleIds[1];
    let m = table.mountIndex(mountId);
    if (m < 0) {
      // open_by_handle_at needs a real open directory of the mount (not an O_PATH handle).
      const dir = isDir ? fd : mountRoot ? -1 : pfd;
      const mfd = dir < 0 ? -1 : sys.reopen(dir, O.RDONLY | O.DIRECTORY | O.CLOEXEC);
      if (mfd < 0) return -1;
      table.lock();
      m = table.addMount(mountId, mfd);
      table.unlock();
      if (m < 0) {
        sys.close(mfd);
        m = table.mountIndex(mountId);
        if (m < 0) return -1;
      }
    }
    this.mount = m;
    return len;
  }

  /**
   * A forgotten slot the kernel asks for by a file handle it gave out (LOOKUP
   * of "."): reopened by its own handle and in use again (counting that
   * lookup), pinned; -ESTALE when it cannot be (reused, deleted, no handle).
   */
  revive(s: number, root: boolean): number {
    const t = this.table;
    if (!this.room(root)) return -E.NFILE;
    t.lock();
    const forgotten = t.forgotten(s);
    const gen = t.generation(s);
    t.unlock();
    if (!forgotten) return -E.STALE;
    const fd = this.openHandle(s);
    if (fd < 0) return fd;
    t.lock();
    const back = t.reviveSlot(s, gen, fd, root);
    if (back) t.pin(s);
    t.unlock();
    if (!back) {
      this.sys.close(fd);
      return -E.STALE;
    }
    this.keep(s);
    this.trim();
    return fd;
  }

  /** Slot s's inode opened by its handle (O_PATH), checked to be that inode; -errno. */
  private openHandle(s: number): number {
    const { sys, table: t } = this;
    const len = t.handleLen(s);
    if (len < 0) return -E.STALE; // a slot without a handle keeps its descriptor: only a freed slot gets here
    const fd = sys.openByHandle(t.mountFdOf(s), t.handles, t.handleAt(s), len, t.handleType(s), O.PATH);
    if (fd < 0) return fd === -E.NOENT ? -E.STALE : fd;
    // A handle names one inode, generation included; checked all the same,
    // on this path only: a wrong descriptor would act on another file.
    if (sys.fstatat(fd, '', AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, this.st) < 0 || !t.isInode(s, this.st[St.dev], this.st[St.ino])) {
      sys.close(fd);
      return -E.STALE;
    }
    return fd;
  }

  /** Reopen slot s (of generation `gen`) by its handle and install the descriptor, pinned. */
  private reopen(s: number, gen: number): number {
    const { sys, table: t } = this;
    const fd = this.openHandle(s);
    if (fd < 0) return fd;
    // Installed only if the slot still holds that inode: it may have been forgotten and reused meanwhile.
    t.lock();
    const got = t.valid(s) && t.generation(s) === gen ? t.install(s, fd) : -E.STALE;
    t.unlock();
    if (got !== fd) sys.close(fd);
    else this.onReopen?.(s, fd);
    this.trim();
    return got;
  }

  private keep(s: number): void {
    if (this.count === this.pinned.length) {
      const more = new Int32Array(this.pinned.length * 2);
      more.set(this.pinned);
      this.pinned = more;
    }
    this.pinned[this.count++] = s;
  }
}
