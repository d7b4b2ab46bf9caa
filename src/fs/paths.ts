// Lower paths of nodes, for the policy. A decision at open needs the file's
// path; asking the kernel (readlink of the node's O_PATH handle through
// /proc/self/fd) costs 4 to 15 µs here, more than the rest of the check.
// So the daemon remembers, for each node it has looked up, its parent node
// and the name the kernel asked for, in memory shared by all workers (a
// LOOKUP served by one worker is followed by an OPEN on any other), and
// builds a path by walking up to the root. The kernel is asked only when
// the walk cannot be trusted.
//
// A record is used only while it is provably right:
// - node ids are reused after FORGET: a record carries its node's and its
//   parent's slot generations, and the walk stops at any mismatch;
// - a rename through the mount moves one node: the renamer records its new
//   parent and name (children follow by the walk). Records are written only
//   if no rename happened between the system call that found the name and
//   the write (a LOOKUP racing a rename would write the old name), and a
//   renamer that cannot record the move invalidates every record;
// - a rename on the lower file system itself is invisible to the daemon: a
//   record is trusted no longer than the kernel's entry cache
//   (--attr-timeout), within which the kernel too resolves the old name to
//   the node; the kernel's next LOOKUP of the name renews it, and so does a
//   readlink that confirms it.
// With hard links the path is the name the file was last looked up by: the
// name the application used (readlink would give the first one).
//
// The memory exists only when the mount has a policy.
import { InodeTable } from './inodes.js';

/** Names longer than this are not remembered (their nodes fall back to readlink). */
const NAME_ROOM = 64;
const MAX_DEPTH = 4096;

const enum P { parent = 0, tag, len, STRIDE = 3 }
const enum G { generation = 0, parentGeneration, at, STRIDE = 3 }
const enum K { renames = 0, invalidations, LENGTH = 2 }

export interface PathMemory {
  ints: SharedArrayBuffer;
  nums: SharedArrayBuffer;
  names: SharedArrayBuffer;
  counters: SharedArrayBuffer;
}

export function allocatePathMemory(capacity: number): PathMemory {
  return {
    ints: new SharedArrayBuffer(capacity * P.STRIDE * 4),
    nums: new SharedArrayBuffer(capacity * G.STRIDE * 8),
    names: new SharedArrayBuffer(capacity * NAME_ROOM),
    counters: new SharedArrayBuffer(K.LENGTH * 4),
  };
}

export class PathCache {
  private readonly ints: Int32Array | null;
  private readonly nums: Float64Array | null;
  private readonly names: Buffer | null;
  private readonly counters: Int32Array | null;
  private readonly parts: string[] = [];

  constructor(private readonly table: InodeTable, mem: PathMemory | null, private readonly ttlMs: number) {
    const on = mem !== null && ttlMs > 0;
    this.ints = on ? new Int32Array(mem.ints) : null;
    this.nums = on ? new Float64Array(mem.nums) : null;
    this.names = on ? Buffer.from(mem.names) : null;
    this.counters = on ? new Int32Array(mem.counters) : null;
  }

  /** Taken before the system call that finds a name; passed to `remember`. */
  mark(): number {
    return this.counters ? Atomics.load(this.counters, K.renames) : 0;
  }

  /** Slot `s` is `name` in directory slot `parent`, as found after `mark`. */
  remember(s: number, parent: number, name: Uint8Array, mark: number): void {
    const c = this.counters;
    if (c === null || s === 0) return;
    this.table.lock();
    if (Atomics.load(c, K.renames) === mark) this.write(s, parent, name);
    this.table.unlock();
  }

  /**
   * A rename through the mount succeeded. `locate(i)` finds the slot of the
   * node now at side i of the rename (-1 if unknown); side 0 is the new
   * name, side 1 (RENAME_EXCHANGE) the old one.
   */
  renamed(sides: { parent: number; name: Uint8Array }[], locate: (i: number) => number): void {
    const c = this.counters;
    if (c === null) return;
    const mark = Atomics.add(c, K.renames, 1) + 1;
    const slots = sides.map((_, i) => locate(i));
    this.table.lock();
    const ok = Atomics.load(c, K.renames) === mark && slots.every((s) => s >= 0);
    if (ok) sides.forEach((side, i) => this.write(slots[i], side.parent, side.name));
    else Atomics.add(c, K.invalidations, 1);
    this.table.unlock();
  }

  /**
   * The path of slot `s` relative to the lower root: from the records when
   * they can be trusted, else `readPath()` (the kernel's answer). Records
   * that are right but older than the entry timeout (the kernel does not look
   * up directories an application walks through with openat) are renewed
   * when the kernel's answer confirms them.
   */
  pathOf(s: number, readPath: () => string): string {
    if (s === 0) return '';
    if (this.ints === null) return readPath();
    this.table.lock();
    const fresh = this.walk(s, false);
    this.table.unlock();
    if (fresh !== undefined) return fresh;
    const real = readPath();
    this.table.lock();
    if (this.walk(s, true) === real) this.touch(s);
    this.table.unlock();
    return real;
  }

  // Caller holds the table lock.
  private write(s: number, parent: number, name: Uint8Array): void {
    const ints = this.ints!;
    const nums = this.nums!;
    const p = s * P.STRIDE;
    const g = s * G.STRIDE;
    const fits = name.length > 0 && name.length <= NAME_ROOM;
    ints[p + P.parent] = parent;
    ints[p + P.tag] = Atomics.load(this.counters!, K.invalidations) + 1;
    ints[p + P.len] = fits ? name.length : 0;
    nums[g + G.generation] = this.table.generation(s);
    nums[g + G.parentGeneration] = this.table.generation(parent);
    nums[g + G.at] = Date.now();
    if (fits) this.names!.set(name, s * NAME_ROOM);
  }

  // Caller holds the table lock.
  private walk(start: number, anyAge: boolean): string | undefined {
    const ints = this.ints!;
    const nums = this.nums!;
    const table = this.table;
    const tag = Atomics.load(this.counters!, K.invalidations) + 1;
    const oldest = anyAge ? -Infinity : Date.now() - this.ttlMs;
    const parts = this.parts;
    parts.length = 0;
    let s = start;
    for (let depth = 0; s !== 0; depth++) {
      const p = s * P.STRIDE;
      const g = s * G.STRIDE;
      const len = ints[p + P.len];
      const parent = ints[p + P.parent];
      if (depth === MAX_DEPTH || ints[p + P.tag] !== tag || len === 0 || nums[g + G.at] < oldest) return undefined;
      if (nums[g + G.generation] !== table.generation(s) || parent < 0 || nums[g + G.parentGeneration] !== table.generation(parent)) return undefined;
      parts.push(this.names!.toString('utf8', s * NAME_ROOM, s * NAME_ROOM + len));
      s = parent;
    }
    parts.reverse();
    return parts.join('/');
  }

  // Caller holds the table lock, right after a successful walk from `s`.
  private touch(s: number): void {
    const now = Date.now();
    for (let depth = 0; s !== 0 && depth < MAX_DEPTH; depth++) {
      this.nums![s * G.STRIDE + G.at] = now;
      s = this.ints![s * P.STRIDE + P.parent];
    }
  }
}
