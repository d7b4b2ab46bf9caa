// Making nodes as their caller: the daemon's thread takes the caller's
// file-system identity (fsuid, fsgid, supplementary groups) and umask for
// the one system call that creates a file, directory, node or symlink, and
// drops it right after. The lower fs then applies its own rules, as it
// would natively: the owner and group of the new node (a setgid parent's
// group, its setgid bit on directories), default ACLs and the umask
// (FUSE_DONT_MASK: the kernel sends the mode unmasked and the umask beside
// it), quotas, and its own permission check. No node ever belongs to root
// in between.
//
// The request carries uid, gid and, with FUSE_CREATE_SUPP_GROUP, the one
// supplementary group that is the parent's group; the kernel has checked
// permissions with all of the caller's groups. When the lower fs refuses
// (EACCES, EPERM) with that one group, the call is made once more with all
// of the caller's groups, read from /proc/PID/status.
//
// The identity is per thread (raw system calls, addon/process.cc), and the
// umask per thread once the worker has its own fs_struct (threadUnshareFs):
// nothing else in the process is touched. The switch is skipped when the
// thread already is who it must be.
import { readFileSync } from 'node:fs';
import type { Native } from '../native/index.js';
import type { Request } from '../fuse/codec.js';
import { E } from '../native/linux.js';
import { statusGroups } from './privileges.js';

export class Creds {
  /** The thread has its own umask (else creates mask the mode themselves). */
  readonly ownUmask: boolean;
  private uid = 0;
  private gid = 0;
  private groupsKey = '';
  private mask: number;
  private readonly one = new Uint32Array(1);
  private readonly none = new Uint8Array(0);

  constructor(private readonly sys: Native) {
    this.ownUmask = sys.threadUnshareFs() === 0;
    this.mask = this.ownUmask ? sys.umask(0o022) : 0o022;
    if (this.ownUmask) sys.umask(this.mask);
  }

  /**
   * Make a node as the caller of `req`: `make` (one system call, -errno on
   * failure) runs with the caller's identity and `umask` (-1: none, for
   * symlinks). Returns make's result, or -errno when the identity could not
   * be taken (then nothing was made).
   */
  make(req: Request, umask: number, make: () => number): number {
    let r = this.become(req.uid, req.gid, req.extGroup(), null, umask);
    if (r === 0) r = make();
    this.restore();
    if ((r === -E.ACCES || r === -E.PERM) && req.uid !== 0) {
      // Permitted by one of the caller's other groups (the kernel checked them all).
      const groups = this.procGroups(req.pid);
      if (groups !== null) {
        const again = this.become(req.uid, req.gid, -1, groups, umask);
        if (again === 0) r = make();
        this.restore();
      }
    }
    return r;
  }

  /**
   * Run `change` as the caller with all its groups (from /proc): for
   * changes whose outcome depends on the caller's groups on the lower fs
   * (setting an ACL drops sgid for a non-member, as chmod does). Root's run
   * as the daemon. -EACCES when the caller is gone.
   */
  asCaller(req: Request, change: () => number): number {
    if (req.uid === 0) return change();
    const groups = this.procGroups(req.pid);
    if (groups === null) return -E.ACCES;
    let r = this.become(req.uid, req.gid, -1, groups, -1);
    if (r === 0) r = change();
    this.restore();
    return r;
  }

  /** Mode bits to pass to a create: the mode itself, or masked here when the thread cannot hold the umask. */
  modeFor(mode: number, umask: number): number {
    return this.ownUmask || umask < 0 ? mode : mode & ~umask;
  }

  private procGroups(pid: number): Uint32Array | null {
    try {
      return Uint32Array.from(statusGroups(readFileSync(`/proc/${pid}/status`, 'utf8')));
    } catch {
      return null; // the caller is gone
    }
  }

  private become(uid: number, gid: number, extGroup: number, groups: Uint32Array | null, umask: number): number {
    const { sys } = this;
    if (this.ownUmask && umask >= 0 && umask !== this.mask) {
      sys.umask(umask);
      this.mask = umask;
    }
    let list: Uint32Array | null = groups;
    if (list === null && extGroup >= 0) {
      this.one[0] = extGroup;
      list = this.one;
    }
    const key = list === null ? '' : list.join(',');
    if (uid === this.uid && gid === this.gid && key === this.groupsKey) return 0;
    const r = sys.threadCreds(uid, gid, list === null ? this.none : new Uint8Array(list.buffer, list.byteOffset, list.byteLength));
    if (r < 0) {
      this.restore();
      return r;
    }
    this.uid = uid;
    this.gid = gid;
    this.groupsKey = key;
    return 0;
  }

  /** Back to the daemon's own identity (root, no supplementary groups). */
  restore(): void {
    if (this.uid === 0 && this.gid === 0 && this.groupsKey === '') return;
    const r = this.sys.threadCreds(0, 0, this.none);
    // Cannot happen as root; if it did, this thread must not serve anything else.
    if (r < 0) throw new Error(`cannot return to the daemon's own identity: ${this.sys.errnoName(-r)}`);
    this.uid = 0;
    this.gid = 0;
    this.groupsKey = '';
  }
}
