// Lower paths of nodes, for the policy. A decision at open needs the file's
// path; asking the kernel (readlink of the node's O_PATH handle through
// /proc/self/fd) costs about 4 µs here, as much as the rest of the policy
// check. So each worker remembers the paths of the nodes it looked up
// (parent's path + the name the kernel asked for) and asks the kernel only
// for the others.
//
// A remembered path is used only while it is provably still the node's:
// - node ids are reused after FORGET: an entry carries the slot's generation
//   and is ignored once the slot holds another inode;
// - a rename through the mount (by any worker) moves whole subtrees: every
//   worker drops everything when the table's rename count has changed;
// - a rename on the lower file system itself is invisible to the daemon:
//   entries live no longer than the kernel's own entry cache (--attr-timeout),
//   within which the kernel too resolves the old name to the node.
// With hard links the path is the name the file was looked up by, which is
// the name the application used (readlink would give the first one).
import { InodeTable } from './inodes.js';

interface Known { path: string; generation: number }

export class PathCache {
  private readonly known = new Map<number, Known>();
  private renames = -1;
  private since = 0;

  constructor(private readonly table: InodeTable, private readonly ttlMs: number) {}

  /** The remembered path of slot `s`, or undefined. */
  get(s: number): string | undefined {
    if (s === 0) return '';
    if (!this.fresh()) return undefined;
    const k = this.known.get(s);
    return k !== undefined && k.generation === this.table.generation(s) ? k.path : undefined;
  }

  set(s: number, path: string): void {
    if (s === 0 || this.ttlMs <= 0) return;
    this.fresh();
    this.known.set(s, { path, generation: this.table.generation(s) });
  }

  /** Slot `s` was found as `name` under slot `parent`: remember its path if the parent's is known. */
  child(parent: number, name: Uint8Array, s: number): void {
    const dir = this.get(parent);
    if (dir === undefined) return;
    const n = Buffer.from(name.buffer, name.byteOffset, name.length).toString();
    this.set(s, dir === '' ? n : `${dir}/${n}`);
  }

  /** Drops everything if a rename happened or the entries are older than the kernel's. */
  private fresh(): boolean {
    const renames = this.table.renames();
    const now = Date.now();
    if (renames !== this.renames || now - this.since > this.ttlMs) {
      this.known.clear();
      this.renames = renames;
      this.since = now;
    }
    return this.ttlMs > 0;
  }
}
