// The kernel's privilege rules, as the daemon must apply them itself. The
// daemon works as root, so what the kernel would do for an unprivileged
// caller natively is done here on its behalf:
//  - a write, truncation or other change of a file by a caller without
//    CAP_FSETID clears suid, clears sgid when the file is group-executable
//    or the caller is not in its group, and drops security.capability (the
//    daemon agrees to FUSE_HANDLE_KILLPRIV_V2, fuse/init.ts, which makes this
//    its duty);
//  - a create that finds the name taken opens it only as the caller could;
//  - trusted.* xattr names are listed only to CAP_SYS_ADMIN.
// (New nodes are made as their caller: creds.ts.)
// The rules themselves are the pure functions at the top (unit-tested in
// test/privileges.test.ts); the class applies them to lower files.
import { readFileSync, readlinkSync } from 'node:fs';
import { Native, St } from '../native/index.js';
import type { Request } from '../fuse/codec.js';
import type { Creds } from './creds.js';
import { invalInode, NOTIFY_BUFFER } from '../fuse/notify.js';
import {
  E, O, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, AT_FDCWD, RESOLVE_CONFINED,
  S_IFMT, S_IFREG, S_ISUID, S_ISGID, S_IXGRP, XATTR_CAPS, procFd,
} from '../native/linux.js';

// ---- the rules ---------------------------------------------------------------------

/**
 * The mode bits (07777) a file keeps after a change by a caller without
 * CAP_FSETID (the kernel's setattr_should_drop_suidgid): suid always goes;
 * sgid goes when the file is group-executable or the caller is not in its group.
 */
export function modeAfterChange(mode: number, callerInGroup: boolean): number {
  let keep = mode & 0o7777 & ~S_ISUID;
  if ((mode & S_ISGID) && ((mode & S_IXGRP) || !callerInGroup)) keep &= ~S_ISGID;
  return keep;
}

/** The access an open asks for, as rwx bits (4 read, 2 write): O_TRUNC writes. */
export function accessWanted(flags: number): number {
  const acc = flags & O.ACCMODE;
  return (acc !== O.WRONLY ? 4 : 0) | (acc !== O.RDONLY || (flags & O.TRUNC) ? 2 : 0);
}

/** Does a /proc/PID/status text give CAP_SYS_ADMIN (bit 21 of CapEff)? */
export function statusHasSysAdmin(status: string): boolean {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return hex !== undefined && (BigInt('0x' + hex) & (1n << 21n)) !== 0n;
}

const TRUSTED = new TextEncoder().encode('trusted.');

/** Does buf[at, end) start with `prefix`? */
export function startsWith(buf: Uint8Array, at: number, end: number, prefix: Uint8Array): boolean {
  if (end - at < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[at + i] !== prefix[i]) return false;
  return true;
}

/**
 * The caller's /proc/PID/status, or null when the process is gone or is no
 * longer the caller (its fsuid is not `uid`: a pid can be reused). Read
 * only on the rare paths that need the caller's groups or capabilities.
 */
export function callerStatus(pid: number, uid: number): string | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  return statusFsuid(status) === uid ? status : null;
}

/** Remove the `trusted.` names from a NUL-separated list in buf[at, at + n); returns the new length (n when there were none, nothing moved). */
export function dropTrusted(buf: Uint8Array, at: number, n: number, dryRun = false): number {
  let out = at;
  for (let p = at; p < at + n;) {
    let z = buf.indexOf(0, p);
    if (z < 0 || z >= at + n) z = at + n - 1;
    const trusted = startsWith(buf, p, z, TRUSTED);
    if (trusted && dryRun) return n - 1;
    if (!trusted) {
      if (out !== p) buf.copyWithin(out, p, z + 1);
      out += z + 1 - p;
    }
    p = z + 1;
  }
  return out - at;
}

/** The supplementary groups of a /proc/PID/status text. */
export function statusGroups(status: string): number[] {
  const line = /^Groups:[ \t]*(.*)$/m.exec(status)?.[1] ?? '';
  return line.split(/\s+/).filter(Boolean).map(Number);
}

/** The fsuid of a /proc/PID/status text (the fourth Uid field), or -1. */
export function statusFsuid(status: string): number {
  const f = /^Uid:\s+\d+\s+\d+\s+\d+\s+(\d+)/m.exec(status)?.[1];
  return f === undefined ? -1 : Number(f);
}

/** Is `gid` among the groups of a /proc/PID/status text? */
export function statusHasGroup(status: string, gid: number): boolean {
  return statusGroups(status).includes(gid);
}

/** Does modeAfterChange depend on the caller's groups for this mode? (Only then are they read.) */
function groupMatters(mode: number): boolean {
  return (mode & S_ISGID) !== 0 && (mode & S_IXGRP) === 0;
}

// ---- applied to lower files --------------------------------------------------------------

const EMPTY = '';

export class Privileges {
  private readonly st = new Float64Array(St.LENGTH);
  private readonly small = new Uint8Array(8);
  private readonly noteBuf = new Uint8Array(NOTIFY_BUFFER);
  private readonly note = new DataView(this.noteBuf.buffer);

  /** `devFd`: the connection, told when a change here makes the kernel's cached attributes stale. */
  constructor(private readonly sys: Native, private readonly devFd: number) {}

  /**
   * The xattr names a caller may see in a list the lower fs made for root:
   * without CAP_SYS_ADMIN (read from /proc, only when the list has a
   * `trusted.` name), those are dropped, as the lower fs would natively.
   */
  visibleXattrs(req: Request, buf: Uint8Array, at: number, n: number): number {
    if (n === 0 || dropTrusted(buf, at, n, true) === n) return n;
    // CAP_SYS_ADMIN of the daemon's own user namespace: one a process holds in a namespace of its own does not count.
    const status = callerStatus(req.pid, req.uid);
    let admin = false;
    try {
      admin = status !== null && statusHasSysAdmin(status) && readlinkSync(`/proc/${req.pid}/ns/user`) === readlinkSync('/proc/self/ns/user');
    } catch { /* the caller is gone: the stricter answer */ }
    return admin ? n : dropTrusted(buf, at, n);
  }

  /** Is the caller in group `gid`? Its supplementary groups come from /proc (only on the rare paths that ask). */
  inGroup(req: Request, gid: number): boolean {
    if (req.gid === gid) return true;
    const status = callerStatus(req.pid, req.uid);
    return status !== null && statusHasGroup(status, gid); // gone: the stricter answer
  }

  /**
   * Clear what a change of the open file `fd` (node `nodeid`) by this caller
   * clears natively (modeAfterChange, capabilities). A write's or a
   * fallocate's reply carries no attributes and the kernel keeps the mode it
   * cached, so when the mode changed the kernel is told to drop the node's
   * attributes (INVAL_INODE), before the reply: the caller's next stat, and
   * an exec, see the cleared bits as natively. Pass nodeid 0 when the reply
   * carries fresh attributes itself (SETATTR).
   */
  killPrivs(fd: number, req: Request, nodeid: number): void {
    const { sys, st } = this;
    if (sys.fstatat(fd, EMPTY, AT_EMPTY_PATH, st) < 0) return;
    const mode = st[St.mode] & 0o7777;
    const keep = modeAfterChange(mode, !groupMatters(mode) || this.inGroup(req, st[St.gid]));
    if (keep !== mode && sys.fchmodat(AT_FDCWD, procFd(fd), keep) === 0 && nodeid > 0) this.dropAttrs(nodeid);
    sys.removexattr(procFd(fd), XATTR_CAPS, true);
  }

  /** Tell the kernel to drop the node's cached attributes (INVAL_INODE; ENOENT: it caches none, nothing to drop). */
  dropAttrs(nodeid: number): void {
    this.sys.write(this.devFd, this.noteBuf, 0, invalInode(this.note, nodeid, false));
  }

  /** Would a change by this caller (not root, so without CAP_FSETID) have to clear something? */
  hasPrivs(fd: number, mode: number, gid: number, req: Request): boolean {
    if (mode & S_ISUID) return true;
    if ((mode & S_ISGID) && ((mode & S_IXGRP) || !this.inGroup(req, gid))) return true;
    return this.sys.getxattr(procFd(fd), XATTR_CAPS, this.small, 0, 0, true) >= 0;
  }

  /**
   * A create without O_EXCL that found the name taken (the file appeared on
   * the lower side after the kernel's lookup said it was not there): open it
   * as the caller could, not as root. Regular files only (a FIFO would block
   * the worker, a directory or a link is not what a create opens), and the
   * caller's access checked by the lower fs itself (mode bits, ACLs): the
   * file is opened once as the caller (creds.ts) with the access asked for.
   */
  openExisting(pfd: number, name: Uint8Array, callerFlags: number, flags: number, req: Request, creds: Creds): number {
    const { sys, st } = this;
    const h = sys.openat2(pfd, name, O.PATH | O.NOFOLLOW | O.CLOEXEC, 0, RESOLVE_CONFINED);
    if (h < 0) return h;
    try {
      const r = sys.fstatat(h, EMPTY, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, st);
      if (r < 0) return r;
      if ((st[St.mode] & S_IFMT) !== S_IFREG) return -E.EXIST;
      if (req.uid !== 0) {
        const want = accessWanted(callerFlags);
        const acc = want === 6 ? O.RDWR : want === 2 ? O.WRONLY : O.RDONLY;
        const probe = creds.make(req, -1, () => sys.reopen(h, acc | O.NOCTTY | O.CLOEXEC));
        if (probe < 0) return probe;
        sys.close(probe);
      }
      return sys.reopen(h, flags | O.CLOEXEC);
    } finally {
      sys.close(h);
    }
  }
}
