// Building an OpenContext: from open(2) flags (the daemon) or from command
// line words (`passfs policy explain ... --mode rw --size 4K`).
import { parseRange } from './ranges.js';
import { Access, FILE_TYPES, FileType, OpenContext, PathView } from './types.js';

import { O } from '../native/linux.js';

/**
 * The access of an open from its flags. `created` says the request creates
 * the file (FUSE CREATE of a new name); the kernel strips O_CREAT from the
 * OPEN of an existing file, so the flag alone is not trusted for that.
 */
export function accessFromFlags(flags: number, created = false, into?: Access): Access {
  const acc = flags & O.ACCMODE;
  // `into`: refill an existing object (the daemon does this at every open).
  const a = into ?? { read: false, write: false, create: false, truncate: false };
  a.read = acc === O.RDONLY || acc === O.RDWR;
  a.write = acc === O.WRONLY || acc === O.RDWR;
  a.create = created;
  a.truncate = (flags & O.TRUNC) !== 0;
  return a;
}

/** "read", "write+truncate", "read-write", "create"... as used in messages. */
export function describeAccess(a: Access): string {
  const parts = [a.read && a.write ? 'read-write' : a.read ? 'read' : a.write ? 'write' : 'no read/write'];
  if (a.create) parts.push('create');
  if (a.truncate) parts.push('truncate');
  return parts.join('+');
}

/**
 * Parses a mode for the command line: letters (`r`, `w`, `rw`, `wct`: c =
 * create, t = truncate) or words joined by commas or `+` (`read`, `write`,
 * `read-write`, `create`, `truncate`). Throws an Error with a one-line message.
 */
export function parseAccessSpec(spec: string): Access {
  const a: Access = { read: false, write: false, create: false, truncate: false };
  const s = String(spec).trim().toLowerCase();
  if (/^[rwct]+$/.test(s)) {
    for (const c of s) {
      if (c === 'r') a.read = true;
      else if (c === 'w') a.write = true;
      else if (c === 'c') a.create = true;
      else a.truncate = true;
    }
    return a;
  }
  const words = s.split(/[,+\s]+/).filter(Boolean);
  if (words.length === 0) throw new Error(`bad mode ${JSON.stringify(spec)}: expected r, w, rw (add c for create, t for truncate) or words like read,write,create`);
  for (const w of words) {
    switch (w) {
      case 'read': case 'read-only': case 'rdonly': a.read = true; break;
      case 'write': case 'write-only': case 'wronly': a.write = true; break;
      case 'read-write': case 'rdwr': a.read = true; a.write = true; break;
      case 'create': case 'creat': a.create = true; break;
      case 'truncate': case 'trunc': a.truncate = true; break;
      default:
        throw new Error(`bad mode ${JSON.stringify(spec)}: unknown word ${JSON.stringify(w)} (expected read, write, read-write, create, truncate, or letters r w c t)`);
    }
  }
  return a;
}

/**
 * A mount-relative path as decide() wants it: no leading "/" or "./", single
 * slashes, no trailing slash. Throws an Error for ".." or an empty path.
 */
export function normalizePolicyPath(p: string): string {
  const parts = String(p).split('/').filter((x) => x !== '' && x !== '.');
  if (parts.some((x) => x === '..')) throw new Error(`bad path ${JSON.stringify(p)}: ".." is not allowed (paths are relative to the mount root)`);
  if (parts.length === 0) throw new Error(`bad path ${JSON.stringify(p)}: expected a path relative to the mount root, like docs/a.txt`);
  return parts.join('/');
}

/** The view of a path string (see PathView): what decide() derives when it is given no view. */
export function viewOfPath(p: string): PathView {
  if (p === '') return { name: '', top: '', depth: 0 };
  let depth = 1;
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) depth++;
  const first = p.indexOf('/');
  return { name: p.slice(p.lastIndexOf('/') + 1), top: first < 0 ? p : p.slice(0, first), depth };
}

export interface ContextOptions {
  path: string;
  type?: FileType | string;
  uid?: number | string;
  gid?: number | string;
  pid?: number | string;
  comm?: string;
  exe?: string;
  /** parseAccessSpec syntax, or an Access. Default "r". */
  mode?: string | Access;
  /** Bytes, or a size with a unit ("4K"). Default 0. */
  size?: number | string;
  content?: Uint8Array;
}

function id(v: number | string | undefined, what: string): number {
  if (v === undefined) return 0;
  const n = typeof v === 'number' ? v : /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`bad ${what} ${JSON.stringify(v)}: expected a number from 0 to 4294967295`);
  return n;
}

/** An OpenContext from command-line style options (for `policy explain`). Throws Error on bad input. */
export function makeContext(o: ContextOptions): OpenContext {
  const type = (o.type ?? 'file') as FileType;
  if (!FILE_TYPES.includes(type)) throw new Error(`bad type ${JSON.stringify(o.type)}: expected ${FILE_TYPES.join(', ')}`);
  let size = 0;
  if (o.size !== undefined) {
    const r = parseRange(o.size, 'size');
    if (!r.ok || r.min !== r.max) throw new Error(`bad size ${JSON.stringify(o.size)}: expected a number of bytes, or with a unit like 4K or 64M`);
    size = r.min;
  }
  const access = o.mode === undefined ? parseAccessSpec('r') : typeof o.mode === 'string' ? parseAccessSpec(o.mode) : { ...o.mode };
  return {
    path: normalizePolicyPath(o.path),
    type,
    uid: id(o.uid, 'uid'),
    gid: id(o.gid, 'gid'),
    pid: id(o.pid, 'pid'),
    comm: o.comm,
    exe: o.exe,
    access,
    size,
    content: o.content,
  };
}
