// The one codec: reading requests and writing replies in place, over buffers
// that live as long as the worker. Nothing here allocates per request except
// the name views handed to the lower-fs calls.
import { IN_HEADER, OUT_HEADER } from './abi.js';
import { St } from '../native/index.js';

const TWO32 = 4294967296;
/** fuse_ext_type FUSE_EXT_GROUPS (types 0..31 are security contexts). */
const EXT_GROUPS = 32;

/**
 * A view over one request in a reusable buffer. `load` re-points it; `base`
 * is where the in-header starts (0 for /dev/fuse; inside an io_uring entry's
 * buffer the header and fixed arguments are placed just before the payload).
 */
export class Request {
  readonly buf: Uint8Array;
  readonly dv: DataView;
  base = 0;
  len = 0;
  opcode = 0;
  nodeid = 0;
  uid = 0;
  gid = 0;
  pid = 0;
  /** When the daemon began serving it (performance.now()): its latency is counted at its reply. */
  arrived = 0;

  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Parse the fixed header of the request that is now in the buffer. */
  load(base = 0): void {
    const dv = this.dv;
    this.base = base;
    this.len = dv.getUint32(base, true);
    this.opcode = dv.getUint32(base + 4, true);
    this.nodeid = readU64(dv, base + 16);
    this.uid = dv.getUint32(base + 24, true);
    this.gid = dv.getUint32(base + 28, true);
    this.pid = dv.getUint32(base + 32, true);
  }

  /**
   * Sent again by the kernel (FUSE_UNIQUE_RESEND, the unique's top bit): a
   * daemon that died had read it, and may have done it before dying.
   */
  resent(): boolean { return (this.dv.getUint32(this.base + 12, true) & 0x80000000) !== 0; }

  /** The request's id (for traces; replies copy it without reading it). */
  unique(): number { return readU64(this.dv, this.base + 8); }

  /** Absolute buffer index of argument offset `off` (offsets are relative to the end of the in-header). */
  at(off: number): number { return this.base + IN_HEADER + off; }
  u32(off: number): number { return this.dv.getUint32(this.at(off), true); }
  i32(off: number): number { return this.dv.getInt32(this.at(off), true); }
  u64(off: number): number { return readU64(this.dv, this.at(off)); }
  big64(off: number): bigint { return this.dv.getBigUint64(this.at(off), true); }
  /** A signed 64-bit field (timestamps: before 1970 they are negative). */
  i64(off: number): number { const at = this.at(off); return this.dv.getUint32(at, true) + this.dv.getInt32(at + 4, true) * TWO32; }
  /**
   * A file offset or size: exact below 2^53 (8 PiB), -1 from there on. A
   * double cannot hold more, and rounding would put data at the wrong place:
   * callers refuse such values instead (EFBIG, EOVERFLOW).
   */
  offset(off: number): number {
    const at = this.at(off);
    const hi = this.dv.getUint32(at + 4, true);
    return hi < OFFSET_HI_LIMIT ? this.dv.getUint32(at, true) + hi * TWO32 : -1;
  }

  /** A NUL-terminated name starting at arg offset `off`: its bytes (without NUL). */
  name(off: number): Uint8Array {
    const start = this.at(off);
    const limit = this.base + this.len;
    let end = this.buf.indexOf(0, start);
    if (end < 0 || end > limit) end = limit;
    return this.buf.subarray(start, end);
  }

  /**
   * The supplementary group the kernel sent with a create, mkdir, mknod or
   * symlink (FUSE_CREATE_SUPP_GROUP: the parent directory's group, when the
   * caller is in it through a supplementary group), or -1. Extensions are the
   * request's last total_extlen * 8 bytes, each a fuse_ext_header { size,
   * type } and its body; FUSE_EXT_GROUPS is fuse_supp_groups { nr, gids[] }.
   */
  extGroup(): number {
    const dv = this.dv;
    const end = this.base + this.len;
    let p = end - dv.getUint16(this.base + 36, true) * 8;
    if (p === end || p < this.base + IN_HEADER) return -1;
    while (p + 8 <= end) {
      const size = dv.getUint32(p, true);
      if (size < 8 || p + size > end) break;
      if (dv.getUint32(p + 4, true) === EXT_GROUPS && size >= 16 && dv.getUint32(p + 8, true) >= 1) return dv.getUint32(p + 12, true);
      p += size;
    }
    return -1;
  }

  /** Offset (arg-relative) just past the NUL of the name at `off`. */
  after(off: number): number {
    const end = this.buf.indexOf(0, this.at(off));
    return end - this.at(0) + 1;
  }

  /** Copy this request (header, arguments, payload) to the start of `into`; returns `into` loaded. */
  copyTo(into: Request): Request {
    into.buf.set(this.buf.subarray(this.base, this.base + this.len), 0);
    into.load(0);
    into.arrived = this.arrived;
    return into;
  }
}

/**
 * A reply under construction: the out-header at `base`, the body right after
 * it; `finish` fills the header. `base` > 0 lets the body land exactly at the
 * start of an io_uring entry's payload buffer.
 */
export class Reply {
  readonly buf: Uint8Array;
  readonly dv: DataView;
  readonly base: number;
  /** Bytes of body that fit. */
  readonly room: number;

  constructor(buf: Uint8Array | number, base = 0) {
    this.buf = typeof buf === 'number' ? new Uint8Array(new ArrayBuffer(buf)) : buf;
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.base = base;
    this.room = this.buf.length - base - OUT_HEADER;
  }

  /** Fill the out-header for a reply to `req` with `bodyLen` bytes (or an error). Returns the total length. */
  finish(req: Request, bodyLen: number, errno = 0): number {
    const total = OUT_HEADER + (errno ? 0 : bodyLen);
    const dv = this.dv;
    const b = this.base;
    // Read the request's 64-bit unique first (the two may share memory), as two halves: no BigInt.
    const lo = req.dv.getUint32(req.base + 8, true);
    const hi = req.dv.getUint32(req.base + 12, true);
    dv.setUint32(b, total, true);
    dv.setInt32(b + 4, errno ? -errno : 0, true);
    dv.setUint32(b + 8, lo, true);
    dv.setUint32(b + 12, hi, true);
    return total;
  }

  /** Absolute buffer index of body offset `off`. */
  at(off: number): number { return this.base + OUT_HEADER + off; }
  // Body writers take offsets relative to the end of the out-header.
  u16(off: number, v: number): void { this.dv.setUint16(this.at(off), v, true); }
  u32(off: number, v: number): void { this.dv.setUint32(this.at(off), v, true); }
  i32(off: number, v: number): void { this.dv.setInt32(this.at(off), v, true); }
  u64(off: number, v: number): void { writeU64(this.dv, this.at(off), v); }
  big64(off: number, v: bigint): void { this.dv.setBigUint64(this.at(off), v, true); }
  zero(off: number, len: number): void { this.buf.fill(0, this.at(off), this.at(off) + len); }

  /** struct fuse_attr from a stat array. */
  attr(off: number, st: Float64Array): void {
    const dv = this.dv;
    const o = this.at(off);
    writeU64(dv, o, st[St.ino]);
    dv.setUint32(o + 8, st[St.sizeLo], true);
    dv.setUint32(o + 12, st[St.sizeHi], true);
    writeU64(dv, o + 16, st[St.blocks]);
    writeU64(dv, o + 24, st[St.atime]);
    writeU64(dv, o + 32, st[St.mtime]);
    writeU64(dv, o + 40, st[St.ctime]);
    dv.setUint32(o + 48, st[St.atimeNs], true);
    dv.setUint32(o + 52, st[St.mtimeNs], true);
    dv.setUint32(o + 56, st[St.ctimeNs], true);
    dv.setUint32(o + 60, st[St.mode], true);
    dv.setUint32(o + 64, st[St.nlink], true);
    dv.setUint32(o + 68, st[St.uid], true);
    dv.setUint32(o + 72, st[St.gid], true);
    dv.setUint32(o + 76, encodeDev(st[St.rdev]), true);
    dv.setUint32(o + 80, st[St.blksize], true);
    dv.setUint32(o + 84, 0, true);
  }

  /** struct fuse_entry_out. `validMs` is both the entry and the attribute timeout. */
  /** struct fuse_entry_out; the attributes may have a timeout of their own (`attrMs`). */
  entry(off: number, nodeid: number, generation: number, st: Float64Array, validMs: number, attrMs = validMs): void {
    this.u64(off, nodeid);
    this.u64(off + 8, generation);
    this.u64(off + 16, Math.floor(validMs / 1000));
    this.u64(off + 24, Math.floor(attrMs / 1000));
    this.u32(off + 32, (validMs % 1000) * 1e6);
    this.u32(off + 36, (attrMs % 1000) * 1e6);
    this.attr(off + 40, st);
  }

  /** The attribute timeout alone of a fuse_entry_out at `off` (changed after it was written). */
  entryAttrTimeout(off: number, attrMs: number): void {
    this.u64(off + 24, Math.floor(attrMs / 1000));
    this.u32(off + 36, (attrMs % 1000) * 1e6);
  }

  /** The entry timeout alone of a fuse_entry_out at `off` (a negative entry: node id 0, no attributes). */
  entryTimeout(off: number, validMs: number): void {
    this.u64(off + 16, Math.floor(validMs / 1000));
    this.u32(off + 32, (validMs % 1000) * 1e6);
  }

  /** struct fuse_attr_out. */
  attrOut(off: number, st: Float64Array, validMs: number): void {
    this.u64(off, Math.floor(validMs / 1000));
    this.u32(off + 8, (validMs % 1000) * 1e6);
    this.u32(off + 12, 0);
    this.attr(off + 16, st);
  }
}

/** The high word of 2^53: offsets from there on cannot be held exactly. */
const OFFSET_HI_LIMIT = 1 << 21;

export function readU64(dv: DataView, off: number): number {
  return dv.getUint32(off, true) + dv.getUint32(off + 4, true) * TWO32;
}

export function writeU64(dv: DataView, off: number, v: number): void {
  dv.setUint32(off, v % TWO32, true);
  dv.setUint32(off + 4, Math.floor(v / TWO32), true);
}

/** glibc's dev_t -> the kernel's 32-bit "new" encoding used by fuse_attr.rdev. */
export function encodeDev(dev: number): number {
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | (Math.floor(dev / 4096) & 0xfff00);
  return ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

/** The kernel's 32-bit dev encoding -> glibc's dev_t (for mknod). */
export function decodeDev(dev: number): number {
  const major = (dev & 0xfff00) >>> 8;
  const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
  return (minor & 0xff) + major * 256 + (minor & ~0xff) * 4096;
}
