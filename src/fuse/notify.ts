// FUSE notifications: messages the daemon sends the kernel unasked (a
// reply header with unique 0 and the notification code in the error field),
// to drop what the kernel caches. One encoder for everyone who tells the
// kernel something: the lower directory's watch (fs/watch.ts) and the
// mirror, when a request changed more than its reply says (fs/mirror.ts).
import { OUT_HEADER } from './abi.js';
import { NAME_MAX } from '../native/linux.js';

export const NOTIFY_INVAL_INODE = 2;
export const NOTIFY_INVAL_ENTRY = 3;
export const NOTIFY_RESEND = 7;
export const NOTIFY_INC_EPOCH = 8;
/** Room for any notification these encoders write. */
export const NOTIFY_BUFFER = OUT_HEADER + 16 + NAME_MAX + 1;

function header(dv: DataView, len: number, code: number): number {
  dv.setUint32(0, len, true);
  dv.setInt32(4, code, true);
  dv.setBigUint64(8, 0n, true);
  return len;
}

/** fuse_notify_inval_inode_out: the node's attributes (and, with `data`, its cached pages) are stale. Returns the length. */
export function invalInode(dv: DataView, nodeid: number, data: boolean): number {
  dv.setBigUint64(OUT_HEADER, BigInt(nodeid), true);
  dv.setBigInt64(OUT_HEADER + 8, data ? 0n : -1n, true);
  dv.setBigInt64(OUT_HEADER + 16, 0n, true);
  return header(dv, OUT_HEADER + 24, NOTIFY_INVAL_INODE);
}

/** fuse_notify_inval_entry_out and the name: the kernel forgets `name` in `parent`. Returns the length, or 0 for a name too long. */
export function invalEntry(buf: Uint8Array, dv: DataView, parent: number, name: Uint8Array): number {
  if (name.length > NAME_MAX) return 0;
  dv.setBigUint64(OUT_HEADER, BigInt(parent), true);
  dv.setUint32(OUT_HEADER + 8, name.length, true);
  dv.setUint32(OUT_HEADER + 12, 0, true);
  buf.set(name, OUT_HEADER + 16);
  buf[OUT_HEADER + 16 + name.length] = 0;
  return header(dv, OUT_HEADER + 16 + name.length + 1, NOTIFY_INVAL_ENTRY);
}

/** FUSE_NOTIFY_RESEND (7.40): the kernel queues again every request read but not answered (a successor takes over a dead daemon's). */
export function resend(dv: DataView): number {
  return header(dv, OUT_HEADER, NOTIFY_RESEND);
}

/** FUSE_NOTIFY_INC_EPOCH (7.44): every cached entry is stale. */
export function incEpoch(dv: DataView): number {
  return header(dv, OUT_HEADER, NOTIFY_INC_EPOCH);
}
