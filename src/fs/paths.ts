// Lower paths of nodes, for the policy. A decision at open needs the file's
// path; asking the kernel (readlink of the node's O_PATH handle through
// /proc/self/fd) costs more than the rest of the check (bench/README.md).
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
// Each worker keeps the names it has decoded as strings, keyed by the
// record's version (bumped at every write): a walk then reads numbers only,
// and turning shared bytes into a string, the costly part, happens once per
// record and worker instead of once per component per open.
//
// A rename request names the old parent and name, not the node. Records are
// indexed by (parent, name) in a direct-mapped table (a collision overwrites;
// every hit is checked against the record), so a rename finds its node there
// and needs no system call unless the record is missing.
//
// The records of lookups and listings are written after the request's reply
// is sent (the mirror calls flush): the application waiting for the answer
// need not also wait for them, and a lookup kept for later is dropped if
// its nodes were forgotten meanwhile. A rename's are written before its
// reply, so that no open after it is decided on the old path.
//
// The memory exists only when the mount has a policy.
import { InodeTable } from './inodes.js';
import type { PathView } from '../policy/types.js';

/** Names longer than this are not remembered (their nodes fall back to readlink). */
const NAME_ROOM = 64;
/** Records kept until a reply is sent: one per entry of a directory listing (READDIRPLUS) at most. */
const LATER = 128;
const MAX_DEPTH = 4096;
const DECODED_SHIFT = 12;
const DECODED_CHUNK = 1 << DECODED_SHIFT;

// One 64-byte record per slot, numbers first (a Float64Array view), then
// ints (an Int32Array view over the same bytes): a walk step touches one
// cache line. On this kind of VM every system call leaves caches and TLB
// cold, so what a decision costs is mostly how much memory it touches.
const RECORD_BYTES = 64;
const enum G { generation = 0, parentGeneration, at, version, STRIDE = 8 }
const enum P { parent = 8, tag, len, STRIDE = 16 }
const enum K { renames = 0, invalidations, LENGTH = 2 }

export interface PathMemory {
  records: SharedArrayBuffer;
  /** (parent, name) hash -> slot + 1. */
  index: SharedArrayBuffer;
  names: SharedArrayBuffer;
  counters: SharedArrayBuffer;
}

export function allocatePathMemory(capacity: number): PathMemory {
  return {
    records: new SharedArrayBuffer(capacity * RECORD_BYTES),
    index: new SharedArrayBuffer(capacity * 4),
    names: new SharedArrayBuffer(capacity * NAME_ROOM),
    counters: new SharedArrayBuffer(K.LENGTH * 4),
  };
}

/** Distrust every record (names changed beside the mount: fs/watch.ts); each is written again at its next lookup. */
export function invalidatePaths(mem: PathMemory): void {
  Atomics.add(new Int32Array(mem.counters), K.invalidations, 1);
}

/** One side of a rename: the node that was `fromName` in `fromParent` is now `name` in `parent`. */
export interface RenameSide {
  parent: number;
  name: Uint8Array;
  fromParent: number;
  fromName: Uint8Array;
}

export class PathCache {
  private readonly ints: Int32Array | null;
  private readonly nums: Float64Array | null;
  private readonly names: Buffer | null;
  private readonly counters: Int32Array | null;
  private readonly index: Int32Array | null;
  /**
   * This worker's decoded names: slot s's name as a string, valid while its
   * record's version is `decodedAt[s]`. Chunks of DECODED_CHUNK slots are
   * made when first used (the table may have millions of slots).
   */
  private readonly decoded: string[][] = [];
  private readonly decodedAt: Float64Array;

  constructor(private readonly table: InodeTable, mem: PathMemory | null, private readonly ttlMs: number) {
    const on = mem !== null && ttlMs > 0;
    this.ints = on ? new Int32Array(mem.records) : null;
    this.nums = on ? new Float64Array(mem.records) : null;
    this.names = on ? Buffer.from(mem.names) : null;
    this.counters = on ? new Int32Array(mem.counters) : null;
    this.index = on ? new Int32Array(mem.index) : null;
    this.decodedAt = new Float64Array(on ? mem.records.byteLength / RECORD_BYTES : 0);
  }

  /** Taken before the system call that finds a name; passed to `remember`. */
  mark(): number {
    return this.counters ? Atomics.load(this.counters, K.renames) : 0;
  }

  /** Slot `s` is `name` in directory slot `parent`, as found after `mark`: written now. */
  remember(s: number, parent: number, name: Uint8Array, mark: number): void {
    this.rememberAfterReply(s, parent, name, mark);
    this.flush();
  }

  /**
   * `remember`, written later by `flush` (the mirror calls it once the
   * request's reply is sent: a LOOKUP's answer need not wait for the
   * record). The name is copied (the request buffer is reused) and the
   * slots' generations are taken now, while the request pins both nodes:
   * if the kernel forgets either before the flush and its slot is reused,
   * nothing is written. A decision that comes between finds the record
   * missing or old and asks the kernel, as for any node it has not seen.
   */
  rememberAfterReply(s: number, parent: number, name: Uint8Array, mark: number): void {
    if (this.counters === null || s === 0) return;
    // A directory listing with attributes (READDIRPLUS) keeps one per entry.
    if (this.later === LATER) this.flush();
    const i = this.later++;
    const len = Math.min(name.length, NAME_ROOM + 1);
    this.laterNames.set(name.subarray(0, len), i * (NAME_ROOM + 1));
    this.laterInts[i * 3] = s;
    this.laterInts[i * 3 + 1] = parent;
    this.laterInts[i * 3 + 2] = len;
    this.laterNums[i * 3] = mark;
    this.laterNums[i * 3 + 1] = this.table.generation(s);
    this.laterNums[i * 3 + 2] = this.table.generation(parent);
  }

  /** Writes what `rememberAfterReply` kept, if anything. */
  flush(): void {
    const n = this.later;
    if (n === 0) return;
    this.later = 0;
    const { table, laterInts: ints, laterNums: nums } = this;
    const renames = this.counters!;
    table.lock();
    for (let i = 0; i < n; i++) {
      const s = ints[i * 3];
      const parent = ints[i * 3 + 1];
      if (table.generation(s) === nums[i * 3 + 1] && table.generation(parent) === nums[i * 3 + 2] && Atomics.load(renames, K.renames) === nums[i * 3]) {
        const at = i * (NAME_ROOM + 1);
        this.write(s, parent, this.laterNames.subarray(at, at + ints[i * 3 + 2]));
      }
    }
    table.unlock();
  }
  // Kept records: slot, parent, name length; mark, generations; the names.
  private later = 0;
  private readonly laterInts = new Int32Array(LATER * 3);
  private readonly laterNums = new Float64Array(LATER * 3);
  private readonly laterNames = new Uint8Array(LATER * (NAME_ROOM + 1));

  /**
   * A rename through the mount succeeded: side 0 moved from `from` to `to`;
   * with RENAME_EXCHANGE, side 1 moved the other way. Each side's node is
   * found by its old name in the records, else by `locate(i)` (the slot of
   * the node now at side i's new name, -1 if unknown: a system call).
   */
  renamed(sides: RenameSide[], locate: (i: number) => number): void {
    const c = this.counters;
    if (c === null) return;
    const mark = Atomics.add(c, K.renames, 1) + 1;
    const slots = this.slots;
    slots.length = sides.length;
    let missing = false;
    this.table.lock();
    for (let i = 0; i < sides.length; i++) {
      slots[i] = this.find(sides[i].fromParent, sides[i].fromName);
      if (slots[i] < 0) missing = true;
    }
    if (missing) {
      this.table.unlock();
      for (let i = 0; i < sides.length; i++) if (slots[i] < 0) slots[i] = locate(i);
      this.table.lock();
    }
    const ok = Atomics.load(c, K.renames) === mark && slots.every((s) => s >= 0);
    if (ok) for (let i = 0; i < sides.length; i++) this.write(slots[i], sides[i].parent, sides[i].name);
    else Atomics.add(c, K.invalidations, 1);
    this.table.unlock();
  }
  private readonly slots: number[] = [];

  // Caller holds the table lock. The slot whose current, fresh record says
  // it is `name` in `parent`, or -1.
  private find(parent: number, name: Uint8Array): number {
    const v = this.index![this.hash(parent, name)];
    if (v === 0) return -1;
    const s = v - 1;
    return this.holds(s, parent, name) && this.nums![s * G.STRIDE + G.at] >= Date.now() - this.ttlMs ? s : -1;
  }

  // Caller holds the table lock. Does slot s's current record say it is `name` in `parent`?
  private holds(s: number, parent: number, name: Uint8Array): boolean {
    const ints = this.ints!;
    const nums = this.nums!;
    const p = s * P.STRIDE;
    const g = s * G.STRIDE;
    if (ints[p + P.parent] !== parent || ints[p + P.len] !== name.length || ints[p + P.tag] !== Atomics.load(this.counters!, K.invalidations) + 1) return false;
    if (nums[g + G.generation] !== this.table.generation(s) || nums[g + G.parentGeneration] !== this.table.generation(parent)) return false;
    const names = this.names!;
    const at = s * NAME_ROOM;
    for (let i = 0; i < name.length; i++) if (names[at + i] !== name[i]) return false;
    return true;
  }

  /** FNV-1a over the parent and the name, masked to the index. */
  private hash(parent: number, name: Uint8Array): number {
    let h = Math.imul(0x811c9dc5 ^ parent, 0x01000193);
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name[i], 0x01000193);
    return (h >>> 0) % this.index!.length;
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
    return fresh !== undefined ? fresh : this.pathFromKernel(s, readPath);
  }

  /**
   * The kernel's path of slot `s` (`readPath()`), renewing the records on
   * the way when they agree with it: pathOf's answer when the records
   * cannot be trusted, and what a decision asks when viewOf fails (whose
   * walk pathOf would only repeat).
   */
  pathFromKernel(s: number, readPath: () => string): string {
    if (s === 0) return '';
    const real = readPath();
    if (this.ints === null) return real;
    this.table.lock();
    if (this.walk(s, true) === real) this.touch(s);
    this.table.unlock();
    return real;
  }

  /**
   * Where slot `s` was last looked up, of any age (its parent's slot and its
   * name there), or null when no record of it is left: a hint for finding a
   * path past PATH_MAX, which the finder checks (lowerpath.ts).
   */
  lastLookedUp(s: number): { parent: number; parentGeneration: number; name: string } | null {
    if (this.ints === null || s === 0) return null;
    this.table.lock();
    const tag = Atomics.load(this.counters!, K.invalidations) + 1;
    const parent = this.parentIfTrusted(s, tag, -Infinity);
    const name = parent < 0 ? '' : this.nameOf(s, this.ints[s * P.STRIDE + P.len], this.nums![s * G.STRIDE + G.version]);
    const parentGeneration = parent < 0 ? 0 : this.table.generation(parent);
    this.table.unlock();
    return parent < 0 ? null : { parent, parentGeneration, name };
  }

  /**
   * The view of slot `s`'s path (its last part, first part and depth: what
   * the policy's common globs read, see PolicyNeeds.path) from the records,
   * into `into`; false when they cannot be trusted (then ask pathOf). The
   * same walk as pathOf's, but it decodes two names at most and joins none.
   */
  viewOf(s: number, into: PathView): boolean {
    if (s === 0) {
      into.name = into.top = '';
      into.depth = 0;
      return true;
    }
    if (this.ints === null) return false;
    const ints = this.ints;
    const nums = this.nums!;
    this.table.lock();
    const tag = Atomics.load(this.counters!, K.invalidations) + 1;
    const oldest = Date.now() - this.ttlMs;
    let top = s;
    let depth = 0;
    for (let at = s; at !== 0; depth++) {
      const parent = depth === MAX_DEPTH ? -1 : this.parentIfTrusted(at, tag, oldest);
      if (parent < 0) {
        this.table.unlock();
        return false;
      }
      top = at;
      at = parent;
    }
    into.name = this.nameOf(s, ints[s * P.STRIDE + P.len], nums[s * G.STRIDE + G.version]);
    into.top = top === s ? into.name : this.nameOf(top, ints[top * P.STRIDE + P.len], nums[top * G.STRIDE + G.version]);
    into.depth = depth;
    this.table.unlock();
    return true;
  }

  // Caller holds the table lock.
  private write(s: number, parent: number, name: Uint8Array): void {
    const ints = this.ints!;
    const nums = this.nums!;
    const p = s * P.STRIDE;
    const g = s * G.STRIDE;
    // The kernel looks names up again every entry timeout: mostly a record
    // only needs renewing, and keeping its version keeps the decoded names.
    if (this.holds(s, parent, name)) {
      nums[g + G.at] = Date.now();
      return;
    }
    const fits = name.length > 0 && name.length <= NAME_ROOM;
    ints[p + P.parent] = parent;
    ints[p + P.tag] = Atomics.load(this.counters!, K.invalidations) + 1;
    ints[p + P.len] = fits ? name.length : 0;
    nums[g + G.generation] = this.table.generation(s);
    nums[g + G.parentGeneration] = this.table.generation(parent);
    nums[g + G.at] = Date.now();
    nums[g + G.version]++;
    if (fits) {
      this.names!.set(name, s * NAME_ROOM);
      this.index![this.hash(parent, name)] = s + 1;
    }
  }

  // Caller holds the table lock.
  private walk(start: number, anyAge: boolean): string | undefined {
    const ints = this.ints!;
    const nums = this.nums!;
    const tag = Atomics.load(this.counters!, K.invalidations) + 1;
    const oldest = anyAge ? -Infinity : Date.now() - this.ttlMs;
    let path = '';
    let s = start;
    for (let depth = 0; s !== 0; depth++) {
      const parent = depth === MAX_DEPTH ? -1 : this.parentIfTrusted(s, tag, oldest);
      if (parent < 0) return undefined;
      const name = this.nameOf(s, ints[s * P.STRIDE + P.len], nums[s * G.STRIDE + G.version]);
      path = s === start ? name : `${name}/${path}`;
      s = parent;
    }
    return path;
  }

  // Caller holds the table lock. Slot s's parent if its record can be
  // trusted: written since the last invalidation (`tag`), with a name, not
  // older than `oldest`, and neither s nor its parent reused since; else -1.
  private parentIfTrusted(s: number, tag: number, oldest: number): number {
    const ints = this.ints!;
    const nums = this.nums!;
    const p = s * P.STRIDE;
    const g = s * G.STRIDE;
    const parent = ints[p + P.parent];
    if (ints[p + P.tag] !== tag || ints[p + P.len] === 0 || nums[g + G.at] < oldest) return -1;
    if (nums[g + G.generation] !== this.table.generation(s) || parent < 0 || nums[g + G.parentGeneration] !== this.table.generation(parent)) return -1;
    return parent;
  }

  /** Slot `s`'s name as a string, decoded once per version of its record. */
  private nameOf(s: number, len: number, version: number): string {
    if (this.decodedAt[s] === version) return this.decoded[s >>> DECODED_SHIFT][s & (DECODED_CHUNK - 1)];
    const name = this.names!.toString('utf8', s * NAME_ROOM, s * NAME_ROOM + len);
    // Filled, not left holey: V8 keeps arrays with holes in slower modes.
    const chunk = (this.decoded[s >>> DECODED_SHIFT] ??= new Array<string>(DECODED_CHUNK).fill(''));
    chunk[s & (DECODED_CHUNK - 1)] = name;
    this.decodedAt[s] = version;
    return name;
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
