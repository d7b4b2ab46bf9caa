// Making nodes as their caller: the daemon's thread takes the caller's
// file-system identity (fsuid, fsgid, supplementary groups) and umask for
// the one system call that creates a file, directory, node or symlink, and
// drops it right after. The lower fs then applies its own rules, as it
// would natively: the owner and group of the new node (a setgid parent's
// group, its setgid bit on directories), default ACLs and the umask
// (FUSE_DONT_MASK: the kernel sends the mode unmasked and the umask beside
// it), whose quota it is charged to (limits are not enforced: the thread
// keeps CAP_SYS_RESOURCE), and its own permission check. No node ever belongs to root
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
// nothing else in the process is touched. Root's own creates need no switch.
import type { Native } from '../native/index.js';
import type { Request } from '../fuse/codec.js';
import { E } from '../native/linux.js';
import { callerStatus, statusGroups } from './privileges.js';

export class Creds {
  /** The thread has its own umask (else creates mask the mode themselves). */
  readonly ownUmask: boolean;
  /** The thread's identity is not the daemon's own (between become and restore). */
  private switched = false;
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
    let r = this.run(req.uid, req.gid, req.extGroup(), null, umask, make);
    if ((r === -E.ACCES || r === -E.PERM) && req.uid !== 0) {
      // Permitted by one of the caller's other groups (the kernel checked them all).
      const groups = this.procGroups(req.pid, req.uid);
      if (groups !== null) r = this.run(req.uid, req.gid, -1, groups, umask, make);
    }
    return r;
  }

  /** `f` with the identity taken, which is dropped again whatever happens. */
  private run(uid: number, gid: number, extGroup: number, groups: Uint32Array | null, umask: number, f: () => number): number {
    try {
      const r = this.become(uid, gid, extGroup, groups, umask);
      return r < 0 ? r : f();
    } finally {
      this.restore();
    }
  }

  /**
   * Run `change` as the caller with all its groups (from /proc): for
   * changes whose outcome depends on the caller's groups on the lower fs
   * (setting an ACL drops sgid for a non-member, as chmod does). Root's run
   * as the daemon. -EACCES when the caller is gone.
   */
  asCaller(req: Request, change: () => number): number {
    if (req.uid === 0) return change();
    const groups = this.procGroups(req.pid, req.uid);
    if (groups === null) return -E.ACCES;
    return this.run(req.uid, req.gid, -1, groups, -1, change);
  }

  /** Mode bits to pass to a create: the mode itself, or masked here when the thread cannot hold the umask. */
  modeFor(mode: number, umask: number): number {
    return this.ownUmask || umask < 0 ? mode : mode & ~umask;
  }

  /** The groups of process `pid`, if it is still the caller (its fsuid is `uid`: a pid can be reused). */
  private procGroups(pid: number, uid: number): Uint32Array | null {
    const status = callerStatus(pid, uid);
    return status === null ? null : Uint32Array.from(statusGroups(status));
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
    // The thread is root between calls (run() restores): root with no groups needs no switch.
    if (uid === 0 && gid === 0 && list === null) return 0;
    // Switched from here on, even if only half done: restore() goes back to root.
    this.switched = true;
    return sys.threadCreds(uid, gid, list === null ? this.none : new Uint8Array(list.buffer, list.byteOffset, list.byteLength));
  }

  /** Back to the daemon's own identity (root, no supplementary groups). */
  restore(): void {
    if (!this.switched) return;
    const r = this.sys.threadCreds(0, 0, this.none);
    if (r < 0) {
      // Cannot happen as root; if it did, this thread must not serve
      // anything else: it ends (the daemon starts another worker).
      process.stderr.write(`passfs: a worker cannot return to the daemon's own identity (${this.sys.errnoName(-r)}): it stops\n`);
      process.exit(70);
    }
    this.switched = false;
  }
}
