// The lower path of one of the daemon's handles, relative to LOWER, for the
// policy, the audit and status. The kernel tells it (readlink of
// /proc/self/fd/N) for paths up to PATH_MAX (4096 bytes); a deeper file,
// which any user can build through the mount, gets ENAMETOOLONG there. Its
// path is then found the way getcwd(3) once did: climb ".." handle by handle
// to LOWER's root, finding at each level the name that holds the node below.
// That costs a directory scan per level, and happens only for such paths; it
// is bounded (CLIMB_LIMITS), and what cannot be told for sure is refused
// (PathUnknown), never guessed: the policy decides by this path.
import { readlinkSync } from 'node:fs';
import type { Native } from '../native/index.js';
import { St } from '../native/index.js';
import { O, AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, S_IFMT, S_IFDIR, procFd } from '../native/linux.js';

const EMPTY = '';
const DOTDOT = '..';
const DT_UNKNOWN = 0;
const DT_DIR = 4;

/** How far one climb may go: a user can build deep trees of large directories through the mount. */
export const CLIMB_LIMITS = { levels: 8192, entries: 1_000_000 };

/** A path past PATH_MAX that cannot be told for sure (the message says why). */
export class PathUnknown extends Error {}

/** Where a node was last looked up: its directory's handle and its name there. */
export interface ParentHint { dirFd: number; name: string }

export class LowerPaths {
  private readonly st = new Float64Array(St.LENGTH);
  private readonly st2 = new Float64Array(St.LENGTH);
  private dents: Uint8Array | null = null;
  private readonly rootDev: number;
  private readonly rootIno: number;

  /**
   * `rootFd`: a handle of LOWER; `root`: its real path, or '' when LOWER is
   * reached through a private clone of its mount (fs/mountflags.ts,
   * lowerAtime), where the kernel names files from the clone's root ("/a/b"
   * is LOWER/a/b), and also names so a file moved out of LOWER within its
   * file system: every such path is checked to lead to its node.
   */
  constructor(private readonly sys: Native, private readonly rootFd: number, private readonly root: string) {
    if (sys.fstatat(rootFd, EMPTY, AT_EMPTY_PATH, this.st) < 0) throw new Error(`cannot stat the lower directory ${root}`);
    this.rootDev = this.st[St.dev];
    this.rootIno = this.st[St.ino];
  }

  /**
   * The path of handle `fd` relative to LOWER ("" for LOWER itself). A node
   * no longer under LOWER (moved out on the lower side) gets its absolute
   * path from the kernel. Past PATH_MAX the path is climbed (see the top);
   * a non-directory cannot be climbed from, so `parent` must say where it
   * was last looked up (its directory's handle and its name there), which is
   * checked before it is used. Throws PathUnknown when the path cannot be
   * told for sure: callers refuse what needs it, they never guess.
   * `verify`: the handle may have been opened by file handle (inodes.ts,
   * reopenedByHandle), so the kernel's path of a non-directory may be only
   * its name; it is used only if it leads to this very node, else found as
   * past PATH_MAX.
   */
  relative(fd: number, parent?: () => ParentHint | null, verify = false): string {
    let p: string;
    try {
      p = readlinkSync(procFd(fd));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENAMETOOLONG') throw e;
      return this.climbFrom(fd, parent);
    }
    if (p.endsWith(' (deleted)')) p = p.slice(0, -10);
    const root = this.root;
    if (root === '') {
      const rel = p.slice(1);
      return this.leadsTo(rel, fd, this.rootFd) ? rel : this.climbFrom(fd, parent);
    }
    if (verify && !this.leadsTo(p, fd)) return this.climbFrom(fd, parent);
    return p === root ? '' : p.startsWith(root + '/') ? p.slice(root.length + 1) : p;
  }

  /** Does `path` (from `dirFd`) name the node of handle `fd` (as root, links not followed at the end)? */
  private leadsTo(path: string, fd: number, dirFd = AT_FDCWD): boolean {
    const { sys, st, st2 } = this;
    return sys.fstatat(fd, EMPTY, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, st) === 0 &&
      sys.fstatat(dirFd, path, (path === EMPTY ? AT_EMPTY_PATH : 0) | AT_SYMLINK_NOFOLLOW, st2) === 0 &&
      st[St.dev] === st2[St.dev] && st[St.ino] === st2[St.ino];
  }

  private climbFrom(fd: number, parent?: () => ParentHint | null): string {
    const { sys, st, st2 } = this;
    if (sys.fstatat(fd, EMPTY, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, st) < 0) throw new PathUnknown('its handle cannot be read');
    if ((st[St.mode] & S_IFMT) === S_IFDIR) return this.climb(fd);
    const h = parent?.() ?? null;
    if (!h) throw new PathUnknown('it is not a directory, and where it was last looked up is not known');
    // The name must still hold this very node (a rename on the lower side would make it another's).
    if (sys.fstatat(h.dirFd, h.name, AT_SYMLINK_NOFOLLOW, st2) < 0 || st2[St.dev] !== st[St.dev] || st2[St.ino] !== st[St.ino]) {
      throw new PathUnknown('it is no longer where it was last looked up');
    }
    const dir = this.climb(h.dirFd);
    return dir ? `${dir}/${h.name}` : h.name;
  }

  /** The path of a directory by climbing "..", one directory scan per level, within CLIMB_LIMITS. */
  private climb(fd: number): string {
    const { sys, st, st2 } = this;
    const parts: string[] = [];
    const budget = { entries: CLIMB_LIMITS.entries };
    let cur = fd;
    try {
      for (let level = 0; ; level++) {
        if (level > CLIMB_LIMITS.levels) throw new PathUnknown(`it is more than ${CLIMB_LIMITS.levels} levels deep`);
        if (sys.fstatat(cur, EMPTY, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, st) < 0) throw new PathUnknown('a directory on the way cannot be read');
        if (st[St.dev] === this.rootDev && st[St.ino] === this.rootIno) return parts.reverse().join('/');
        const up = sys.openat(cur, DOTDOT, O.PATH | O.DIRECTORY | O.CLOEXEC, 0);
        if (up < 0) throw new PathUnknown('a directory on the way cannot be climbed from');
        if (sys.fstatat(up, EMPTY, AT_EMPTY_PATH, st2) < 0 || (st2[St.dev] === st[St.dev] && st2[St.ino] === st[St.ino])) {
          sys.close(up);
          throw new PathUnknown('it is not under LOWER'); // the top of the file system was reached
        }
        const name = this.nameIn(up, st[St.dev], st[St.ino], st[St.mountRoot] === 1, budget);
        if (cur !== fd) sys.close(cur);
        cur = up;
        if (name === null) throw new PathUnknown('a directory on the way no longer holds the one below it');
        parts.push(name);
      }
    } finally {
      if (cur !== fd) sys.close(cur);
    }
  }

  /**
   * The name in directory `dirFd` (a handle) that holds node (dev, ino), or
   * null. The entry's d_ino is the node's inode, except for the root of a
   * mount (`mountRoot`), whose entry holds the directory it covers.
   */
  private nameIn(dirFd: number, dev: number, ino: number, mountRoot: boolean, budget: { entries: number }): string | null {
    const { sys, st2 } = this;
    const d = sys.reopen(dirFd, O.RDONLY | O.DIRECTORY | O.NOATIME | O.CLOEXEC); // the daemon's own scan: no access to show
    if (d < 0) return null;
    const buf = (this.dents ??= new Uint8Array(64 * 1024));
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    try {
      for (;;) {
        const n = sys.getdents64(d, buf, 0, buf.length);
        if (n <= 0) return null;
        for (let p = 0; p < n;) {
          const reclen = dv.getUint16(p + 16, true);
          const dIno = Number(dv.getBigUint64(p, true));
          const type = buf[p + 18];
          let end = buf.indexOf(0, p + 19);
          if (end < 0 || end > p + reclen) end = p + reclen;
          const name = buf.subarray(p + 19, end);
          p += reclen;
          if (--budget.entries < 0) throw new PathUnknown(`finding it would read more than ${CLIMB_LIMITS.entries} directory entries`);
          if (name[0] === 0x2e && (name.length === 1 || (name.length === 2 && name[1] === 0x2e))) continue;
          if (dIno !== ino && !(mountRoot && (type === DT_DIR || type === DT_UNKNOWN))) continue;
          if (sys.fstatat(d, name, AT_SYMLINK_NOFOLLOW, st2) === 0 && st2[St.ino] === ino && st2[St.dev] === dev) {
            return Buffer.from(name).toString('utf8');
          }
        }
      }
    } finally {
      sys.close(d);
    }
  }
}
