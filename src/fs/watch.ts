// The lower directory's watch: changes made beside the mount, told to the
// kernel, so that entries and attributes can be cached for long.
//
// The kernel caches what a LOOKUP or GETATTR answered for the timeouts the
// daemon gives. A change made through the mount updates those caches itself;
// one made directly on the lower directory would stay invisible until they
// expire. So the daemon watches (fanotify, as root) every directory it has
// entered, with events on their children, and answers each change it did
// not make itself with a FUSE notification: INVAL_ENTRY (the kernel forgets
// a name: a create, an unlink, either side of a rename) and INVAL_INODE (it
// forgets a node's attributes and cached data: chmod, chown, utimes, a
// write, a truncation), and the changed directory's attributes with a name. The daemon's own changes come from its own process and are skipped
// by pid, so they cost one event read each and no notification. When events
// were lost (the queue overflowed), every entry is made stale at once
// (FUSE_NOTIFY_INC_EPOCH).
//
// With the watch on, the timeouts default to long ones (README, "Caching").
// A write or a close after writing, by another process, of a file that is
// open in passthrough through the mount (or was, in the last two seconds) is
// taken for the mount's own (the kernel's passthrough writes are made in the
// application's name) and not told.
// What it does not see: changes under a directory the daemon never entered
// (the kernel caches nothing there either), changes made through another
// name of a hard-linked file outside a watched directory, and changes on
// file systems mounted inside LOWER that the handle cannot be decoded on.
import { native, Native, St } from '../native/index.js';
import { AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, E, O, procFd } from '../native/linux.js';
import * as notify from '../fuse/notify.js';
import { InodeTable, IoMode } from './inodes.js';

// fanotify(7) numbers.
const FAN_MARK_ADD = 0x1;
const FAN_MODIFY = 0x2;
const FAN_ATTRIB = 0x4;
const FAN_CLOSE_WRITE = 0x8;
const FAN_MOVED_FROM = 0x40;
const FAN_MOVED_TO = 0x80;
const FAN_CREATE = 0x100;
const FAN_DELETE = 0x200;
const FAN_Q_OVERFLOW = 0x4000;
const FAN_EVENT_ON_CHILD = 0x08000000;
const FAN_ONDIR = 0x40000000;
const ENTRY_EVENTS = FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO;
const INODE_EVENTS = FAN_ATTRIB | FAN_MODIFY | FAN_CLOSE_WRITE;
const WRITE_EVENTS = FAN_MODIFY | FAN_CLOSE_WRITE;
/** What a directory's mark asks for: its entries, and its children's attributes and writes. */
export const DIR_MARK = ENTRY_EVENTS | INODE_EVENTS | FAN_ONDIR | FAN_EVENT_ON_CHILD;
const INFO_FID = 1;
const INFO_DFID_NAME = 2;
const EVENT_META = 24;
/** How long the reader rests after reading events (bounds its wake-ups; well inside the 100 ms a change may take to be seen). */
const COALESCE_MS = 20;


/** Mark directory handle `fd` for watch group `fan` (one system call; a failure only means less is seen). */
export function markDirectory(sys: Native, fan: number, fd: number): number {
  return sys.fanotifyMark(fan, FAN_MARK_ADD, DIR_MARK, procFd(fd));
}

export interface WatchCounts {
  /** Events read, and those that were the daemon's own (skipped). */
  events: number;
  own: number;
  /** Notifications sent to the kernel. */
  invalEntry: number;
  invalInode: number;
  epochs: number;
  /** Events about nodes the daemon does not know (nothing to tell), or handles that no longer resolve. */
  unknown: number;
}

export class LowerWatch {
  readonly counts: WatchCounts = { events: 0, own: 0, invalEntry: 0, invalInode: 0, epochs: 0, unknown: 0 };
  private readonly buf = new Uint8Array(64 * 1024);
  private readonly dv = new DataView(this.buf.buffer);
  private readonly out = new Uint8Array(notify.NOTIFY_BUFFER);
  private readonly odv = new DataView(this.out.buffer);
  private readonly st = new Float64Array(St.LENGTH);
  private watch = 0;
  private pause: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  private constructor(
    readonly fd: number,
    private readonly devFd: number,
    private readonly mountFd: number,
    private readonly table: InodeTable,
    /** Called when a name changed beside the mount (the policy's remembered paths are stale). */
    private readonly onRename: () => void,
    private readonly log: (m: string) => void,
  ) {}

  /** A watch on LOWER (its root marked), or the reason there cannot be one. */
  static open(devFd: number, rootFd: number, table: InodeTable, onRename: () => void, log: (m: string) => void): LowerWatch | string {
    const fd = native.fanotifyInit();
    if (fd < 0) return `fanotify: ${native.errnoName(-fd)}`;
    const r = markDirectory(native, fd, rootFd);
    // open_by_handle_at wants a real open file of the file system, not an O_PATH handle.
    const mountFd = r < 0 ? r : native.reopen(rootFd, O.RDONLY | O.DIRECTORY | O.CLOEXEC);
    if (mountFd < 0) {
      native.close(fd);
      return `${r < 0 ? 'fanotify_mark' : 'open'} of the lower directory: ${native.errnoName(-mountFd)}`;
    }
    return new LowerWatch(fd, devFd, mountFd, table, onRename, log);
  }

  /** Read events in this thread's loop from now on. */
  start(): void {
    this.closed = false;
    this.listen();
  }

  /**
   * Waits for the next events. After each read it waits COALESCE_MS before
   * listening again, so that a busy mount wakes this thread a few dozen
   * times a second, not once per event (most are the daemon's own).
   */
  private listen(): void {
    this.watch = native.devWatch(this.fd, this.buf, 16, (n) => {
      if (n === -E.AGAIN) return;
      if (n <= 0) {
        this.log(`the lower directory's watch ended (${n ? native.errnoName(-n) : 'end of file'}): changes made beside the mount are seen after the timeouts only`);
        this.stop();
        return;
      }
      this.events(n);
      if (this.pause === null) {
        native.devUnwatch(this.watch);
        this.watch = 0;
        this.pause = setTimeout(() => {
          this.pause = null;
          if (!this.closed) this.listen();
        }, COALESCE_MS);
        this.pause.unref();
      }
    });
    if (this.watch < 0) this.log(`cannot read the lower directory's watch: ${native.errnoName(-this.watch)}`);
  }

  stop(): void {
    this.closed = true;
    if (this.pause !== null) clearTimeout(this.pause);
    this.pause = null;
    if (this.watch > 0) native.devUnwatch(this.watch);
    this.watch = 0;
  }

  close(): void {
    this.stop();
    native.close(this.fd);
    native.close(this.mountFd);
  }

  private events(n: number): void {
    const dv = this.dv;
    const self = process.pid;
    for (let p = 0; p + EVENT_META <= n;) {
      const len = dv.getUint32(p, true);
      if (len < EVENT_META || p + len > n) break;
      const mask = Number(dv.getBigUint64(p + 8, true));
      const pid = dv.getInt32(p + 20, true);
      this.counts.events++;
      if (mask & FAN_Q_OVERFLOW) this.epoch();
      else if (pid === self) this.counts.own++;
      else this.event(mask, p + dv.getUint16(p + 6, true), p + len);
      p += len;
    }
  }

  /** One event's info records, from `at` to `end`. */
  private event(mask: number, at: number, end: number): void {
    const { buf, dv } = this;
    let parent = -1;
    let name: Uint8Array | null = null;
    let node = -1;
    for (let p = at; p + 4 <= end;) {
      const type = buf[p];
      const len = dv.getUint16(p + 2, true);
      if (len < 4 || p + len > end) break;
      // header (4), fsid (8), file_handle { handle_bytes u32, handle_type i32, f_handle[] }, then a name for DFID_NAME.
      const hb = dv.getUint32(p + 12, true);
      const ht = dv.getInt32(p + 16, true);
      if (p + 20 + hb > p + len) break;
      if (type === INFO_DFID_NAME) {
        parent = this.slotOf(buf, p + 20, hb, ht);
        const nameAt = p + 20 + hb;
        let z = buf.indexOf(0, nameAt);
        if (z < 0 || z > p + len) z = p + len;
        name = buf.subarray(nameAt, z);
      } else if (type === INFO_FID) {
        node = this.slotOf(buf, p + 20, hb, ht);
      }
      p += len;
    }
    let told = false;
    const self = name !== null && name.length === 1 && name[0] === 0x2e;
    // An event on a directory itself names it as "." in itself, with no record of its own.
    if (self && node < 0) node = parent;
    if ((mask & ENTRY_EVENTS) && parent >= 0 && name && !self) {
      this.invalEntry(parent + 1, name);
      // The directory's own attributes (mtime, nlink) changed too.
      this.invalInode(parent + 1, false);
      if (mask & (FAN_MOVED_FROM | FAN_MOVED_TO | FAN_DELETE)) this.onRename();
      told = true;
    }
    if ((mask & INODE_EVENTS) && node >= 0) {
      if (!(mask & ~WRITE_EVENTS & INODE_EVENTS) && this.passthroughClose(node)) {
        // The close of a backing file, written by an application through the
        // mount: the kernel knows of those writes already.
        this.counts.own++;
        return;
      }
      this.invalInode(node + 1, (mask & WRITE_EVENTS) !== 0);
      told = true;
    }
    if (!told) this.counts.unknown++;
  }

  /**
   * Is this write or close of node slot `s` the mount's own, through its
   * backing file? Kernel
   * passthrough writes are the application's (its pid), and the backing
   * file's last reference may drop in its close: seen as a close-after-write
   * from outside. Open in passthrough now, or its last passthrough open ended
   * within the last two seconds.
   */
  private passthroughClose(s: number): boolean {
    return this.table.ioMode(s) === IoMode.Passthrough || Date.now() - this.table.backingClosedAt(s) < 2000;
  }

  /** The table slot of the node a file handle names, or -1. */
  private slotOf(buf: Uint8Array, off: number, len: number, type: number): number {
    const fd = native.openByHandle(this.mountFd, buf, off, len, type, O.PATH);
    if (fd < 0) return -1;
    const r = native.fstatat(fd, '', AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, this.st);
    native.close(fd);
    if (r < 0) return -1;
    this.table.lock();
    const s = this.table.find(this.st[St.dev], this.st[St.ino]);
    this.table.unlock();
    return s;
  }

  private send(len: number): void {
    const r = native.write(this.devFd, this.out, 0, len);
    // ENOENT: the kernel no longer has what was named (nothing was cached).
    if (r < 0 && r !== -E.NOENT) this.log(`FUSE notification: ${native.errnoName(-r)}`);
  }

  private invalEntry(parent: number, name: Uint8Array): void {
    const len = notify.invalEntry(this.out, this.odv, parent, name);
    if (len === 0) return;
    this.counts.invalEntry++;
    this.send(len);
  }

  /** Attributes always; with `data`, the cached pages too. */
  private invalInode(nodeid: number, data: boolean): void {
    this.counts.invalInode++;
    this.send(notify.invalInode(this.odv, nodeid, data));
  }

  /** Events were lost: every cached entry is stale. */
  private epoch(): void {
    this.log('the lower directory\'s watch lost events (queue overflow): every cached entry made stale');
    this.counts.epochs++;
    this.send(notify.incEpoch(this.odv));
    this.onRename();
  }
}
