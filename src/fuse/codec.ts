// The one codec: reading requests and writing replies in place, over buffers
// that live as long as the worker. Nothing here allocates per request except
// the name views handed to the lower-fs calls.
import { ATTR, ENTRY_OUT, IN_HEADER, OUT_HEADER } from './abi.js';
import { St } from '../native/index.js';

const TWO32 = 4294967296;

/** A view over one request in a reusable buffer. `load` re-points it. */
export class Request {
  readonly buf: Uint8Array;
  readonly dv: DataView;
  len = 0;
  opcode = 0;
  nodeid = 0;
  uid = 0;
  gid = 0;
  pid = 0;

  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Parse the fixed header of the request that is now in the buffer. */
  load(): void {
    const dv = this.dv;
    this.len = dv.getUint32(0, true);
    this.opcode = dv.getUint32(4, true);
    this.nodeid = readU64(dv, 16);
    this.uid = dv.getUint32(24, true);
    this.gid = dv.getUint32(28, true);
    this.pid = dv.getUint32(32, true);
  }

  /** Argument accessors take offsets relative to the end of the in-header. */
  u32(off: number): number { return this.dv.getUint32(IN_HEADER + off, true); }
  i32(off: number): number { return this.dv.getInt32(IN_HEADER + off, true); }
  u64(off: number): number { return readU64(this.dv, IN_HEADER + off); }

  /** A NUL-terminated name starting at arg offset `off`: its bytes (without NUL). */
  name(off: number): Uint8Array {
    const start = IN_HEADER + off;
    let end = this.buf.indexOf(0, start);
    if (end < 0 || end > this.len) end = this.len;
    return this.buf.subarray(start, end);
  }

  /** Offset (arg-relative) just past the NUL of the name at `off`. */
  after(off: number): number {
    const end = this.buf.indexOf(0, IN_HEADER + off);
    return end - IN_HEADER + 1;
  }
}

/** A reply under construction: body at OUT_HEADER, header filled by `finish`. */
export class Reply {
  readonly buf: Uint8Array;
  readonly dv: DataView;

  constructor(size: number) {
    this.buf = new Uint8Array(new ArrayBuffer(size));
    this.dv = new DataView(this.buf.buffer);
  }

  /** Fill the out-header for a reply to `req` with `bodyLen` bytes (or an error). Returns the total length. */
  finish(req: Request, bodyLen: number, errno = 0): number {
    const total = OUT_HEADER + (errno ? 0 : bodyLen);
    const dv = this.dv;
    dv.setUint32(0, total, true);
    dv.setInt32(4, errno ? -errno : 0, true);
    // Copy the request's 64-bit unique as two halves: no BigInt on the hot path.
    dv.setUint32(8, req.dv.getUint32(8, true), true);
    dv.setUint32(12, req.dv.getUint32(12, true), true);
    return total;
  }

  // Body writers take offsets relative to the end of the out-header.
  u32(off: number, v: number): void { this.dv.setUint32(OUT_HEADER + off, v, true); }
  i32(off: number, v: number): void { this.dv.setInt32(OUT_HEADER + off, v, true); }
  u64(off: number, v: number): void { writeU64(this.dv, OUT_HEADER + off, v); }
  zero(off: number, len: number): void { this.buf.fill(0, OUT_HEADER + off, OUT_HEADER + off + len); }

  /** struct fuse_attr from a stat array. */
  attr(off: number, st: Float64Array): void {
    const dv = this.dv;
    const o = OUT_HEADER + off;
    writeU64(dv, o, st[St.ino]);
    writeU64(dv, o + 8, st[St.size]);
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
  entry(off: number, nodeid: number, generation: number, st: Float64Array, validMs: number): void {
    const sec = Math.floor(validMs / 1000);
    const nsec = (validMs % 1000) * 1e6;
    this.u64(off, nodeid);
    this.u64(off + 8, generation);
    this.u64(off + 16, sec);
    this.u64(off + 24, sec);
    this.u32(off + 32, nsec);
    this.u32(off + 36, nsec);
    this.attr(off + 40, st);
  }

  /** struct fuse_attr_out. */
  attrOut(off: number, st: Float64Array, validMs: number): void {
    this.u64(off, Math.floor(validMs / 1000));
    this.u32(off + 8, (validMs % 1000) * 1e6);
    this.u32(off + 12, 0);
    this.attr(off + 16, st);
  }
}

export const ENTRY_SIZE = ENTRY_OUT;
export const ATTR_SIZE = ATTR;

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
