// INIT negotiation: what we ask for, what the kernel offers, what we agree on.
import { Init, InitFlag, KERNEL_MAJOR, KERNEL_MINOR, MAX_PAGES, MAX_WRITE } from './abi.js';
import { InitIn, InitOut } from './structs.js';
import { Request, Reply } from './codec.js';

export interface InitWishes {
  /** Ask for FUSE_PASSTHROUGH (only when some file may use it). */
  passthrough: boolean;
  /** Ask for FUSE_OVER_IO_URING. */
  uring: boolean;
  maxBackground: number;
  /** Largest READ/WRITE payload (bounded by MAX_WRITE; with io_uring, by the entries' payload buffers). */
  maxWrite: number;
}

export interface Capabilities {
  major: number;
  minor: number;
  /** Flags the kernel offered, by name. */
  offered: InitFlag[];
  /** Flags both sides agreed on, by name. */
  agreed: InitFlag[];
  passthrough: boolean;
  killprivV2: boolean;
  uring: boolean;
  maxWrite: number;
  maxPages: number;
  maxBackground: number;
  maxReadahead: number;
  maxStackDepth: number;
}

/**
 * What passfs asks for, and why:
 * - ASYNC_READ, ASYNC_DIO, MAX_PAGES, BIG_WRITES: many large requests in flight;
 * - ATOMIC_O_TRUNC: O_TRUNC arrives with OPEN, so the truncation and the
 *   kernel's suid-kill flag are handled in one place;
 * - DO_READDIRPLUS, READDIRPLUS_AUTO, PARALLEL_DIROPS: fewer metadata trips;
 * - HANDLE_KILLPRIV_V2: without it the kernel asks GETXATTR security.capability
 *   before every write, passthrough writes included (the write trap); with it we
 *   owe the kernel the clearing of suid/sgid/capabilities (see fs/mirror.ts);
 * - AUTO_INVAL_DATA: mediated files notice changes made beside the mount;
 * - CACHE_SYMLINKS: a symlink's target is read once per entry, not per walk;
 * - POSIX_ACL: the kernel checks ACLs (read with GETXATTR, cached) along with
 *   the mode bits (default_permissions), as on the lower fs;
 * - DONT_MASK and CREATE_SUPP_GROUP: a create's mode arrives unmasked with
 *   the caller's umask, and with the parent's group when the caller has it
 *   as a supplementary group, so that the daemon can make the node as the
 *   caller and the lower fs apply default ACLs, the umask and setgid itself
 *   (fs/creds.ts);
 * - EXPORT_SUPPORT: file handles of the mount (name_to_handle_at, an NFS
 *   re-export) stay good after the kernel forgets the node: it asks LOOKUP
 *   of "." (and ".." for a directory's parent), answered from the slot's own
 *   file handle while the slot is not reused (fs/inodes.ts);
 * - PASSTHROUGH (with max_stack_depth 1) and OVER_IO_URING when wanted.
 * Never WRITEBACK_CACHE: the kernel refuses passthrough with it, and it would
 * acknowledge writes before they reach the lower fs.
 */
const ALWAYS: InitFlag[] = [
  'ASYNC_READ', 'ATOMIC_O_TRUNC', 'BIG_WRITES', 'AUTO_INVAL_DATA', 'DO_READDIRPLUS',
  'READDIRPLUS_AUTO', 'ASYNC_DIO', 'PARALLEL_DIROPS', 'MAX_PAGES', 'HANDLE_KILLPRIV_V2', 'INIT_EXT', 'CACHE_SYMLINKS',
  'POSIX_ACL', 'DONT_MASK', 'CREATE_SUPP_GROUP', 'EXPORT_SUPPORT',
];

function has(lo: number, hi: number, bit: number): boolean {
  return bit < 32 ? ((lo >>> bit) & 1) === 1 : ((hi >>> (bit - 32)) & 1) === 1;
}

/** Answer the INIT request in `req`; returns the reply length and what was agreed. */
export function negotiate(req: Request, rep: Reply, wishes: InitWishes): { len: number; caps: Capabilities } {
  const major = req.u32(InitIn.major);
  const minor = req.u32(InitIn.minor);
  const maxReadahead = req.u32(InitIn.maxReadahead);
  const lo = req.u32(InitIn.flags);
  const hi = has(lo, 0, Init.INIT_EXT) ? req.u32(InitIn.flags2) : 0;
  if (major !== KERNEL_MAJOR) throw new Error(`kernel speaks FUSE ${major}.${minor}; passfs needs ${KERNEL_MAJOR}.x`);
  const offered = (Object.keys(Init) as InitFlag[]).filter((f) => has(lo, hi, Init[f]));
  const want = [...ALWAYS];
  if (wishes.passthrough) want.push('PASSTHROUGH');
  if (wishes.uring) want.push('OVER_IO_URING');
  const agreed = want.filter((f) => has(lo, hi, Init[f]));
  let outLo = 0;
  let outHi = 0;
  for (const f of agreed) {
    const bit = Init[f];
    if (bit < 32) outLo = (outLo | (1 << bit)) >>> 0;
    else outHi = (outHi | (1 << (bit - 32))) >>> 0;
  }
  const passthrough = agreed.includes('PASSTHROUGH');
  const caps: Capabilities = {
    major: KERNEL_MAJOR,
    minor: Math.min(minor, KERNEL_MINOR),
    offered,
    agreed,
    passthrough,
    killprivV2: agreed.includes('HANDLE_KILLPRIV_V2'),
    uring: agreed.includes('OVER_IO_URING'),
    maxWrite: Math.min(MAX_WRITE, wishes.maxWrite),
    maxPages: Math.min(MAX_PAGES, Math.floor(wishes.maxWrite / 4096)),
    maxBackground: wishes.maxBackground,
    maxReadahead,
    maxStackDepth: passthrough ? 1 : 0,
  };
  rep.zero(0, InitOut.SIZE);
  rep.u32(InitOut.major, KERNEL_MAJOR);
  rep.u32(InitOut.minor, KERNEL_MINOR);
  rep.u32(InitOut.maxReadahead, maxReadahead);
  rep.u32(InitOut.flags, outLo);
  rep.u16(InitOut.maxBackground, wishes.maxBackground);
  rep.u16(InitOut.congestionThreshold, Math.floor((wishes.maxBackground * 3) / 4));
  rep.u32(InitOut.maxWrite, caps.maxWrite);
  rep.u32(InitOut.timeGran, 1); // time granularity: nanoseconds
  rep.u16(InitOut.maxPages, caps.maxPages);
  rep.u32(InitOut.flags2, outHi);
  rep.u32(InitOut.maxStackDepth, caps.maxStackDepth);
  return { len: rep.finish(req, InitOut.SIZE), caps };
}
