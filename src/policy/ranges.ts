// Ranges of sizes and of uids/gids. Every range is kept as an inclusive pair
// [min, max] of integers; a key's list of ranges is one flat array
// [min0, max0, min1, max1, ...] so matching is a loop over numbers.
//
// Grammar (strings; spaces allowed around the parts):
//   VALUE            exactly VALUE               1000, "4K"
//   A-B              A <= x <= B (both included)  "1000-1999", "1K-1M"
//   >= A, > A, <= A, < A, = A
// and, in YAML, a mapping {min: A, max: B} (either may be left out, both included).
// Sizes take binary units: B, K/KB/KiB = 1024, M = 1024^2, G, T, P (any case).
import { show } from './errors.js';

export type RangeKind = 'size' | 'id';

const LIMIT: Record<RangeKind, number> = { size: Number.MAX_SAFE_INTEGER, id: 0xffffffff };
const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 2 ** 10, kb: 2 ** 10, kib: 2 ** 10,
  m: 2 ** 20, mb: 2 ** 20, mib: 2 ** 20,
  g: 2 ** 30, gb: 2 ** 30, gib: 2 ** 30,
  t: 2 ** 40, tb: 2 ** 40, tib: 2 ** 40,
  p: 2 ** 50, pb: 2 ** 50, pib: 2 ** 50,
};

export function expected(kind: RangeKind, what = kind === 'id' ? 'uid' : 'size'): string {
  return kind === 'size'
    ? 'expected a size range like ">= 1M", "< 4K", "1K-1M" or {min, max}'
    : `expected a ${what} like 1000, a range like "1000-1999" or ">= 1000", or {min, max}`;
}

type Result = { ok: true; min: number; max: number } | { ok: false; reason: string };

/** One value (a number, or a string with an optional unit for sizes). */
export function parseValue(v: unknown, kind: RangeKind): { ok: true; n: number } | { ok: false; reason: string } {
  const lim = LIMIT[kind];
  const name = kind === 'id' ? 'id' : 'size';
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0) return { ok: false, reason: `${show(v)} is not a whole number >= 0` };
    if (v > lim) return { ok: false, reason: `${show(v)} is above the largest ${name} (${lim})` };
    return { ok: true, n: v };
  }
  if (typeof v !== 'string') return { ok: false, reason: `got ${show(v)}` };
  const m = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(v.trim());
  if (!m) return { ok: false, reason: `${show(v)} is not a number${kind === 'size' ? ' with an optional unit' : ''}` };
  const unitKey = m[2].toLowerCase();
  if (kind === 'id' && m[2] !== '') return { ok: false, reason: `${show(v)}: ids take no unit` };
  const unit = UNITS[unitKey];
  if (unit === undefined) return { ok: false, reason: `unknown unit ${show(m[2])} in ${show(v)} (use B, K, M, G, T or P; binary: 1K = 1024)` };
  const n = Number(m[1]) * unit;
  if (!Number.isFinite(n) || n > lim) return { ok: false, reason: `${show(v)} is above the largest ${name} (${lim})` };
  if (!Number.isInteger(n)) return { ok: false, reason: `${show(v)} is not a whole number${kind === 'size' ? ' of bytes' : ''}` };
  return { ok: true, n };
}

/** Parses one range (not a list). */
export function parseRange(v: unknown, kind: RangeKind): Result {
  const lim = LIMIT[kind];
  let min = 0;
  let max = lim;
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    const bad = keys.find((k) => k !== 'min' && k !== 'max');
    if (bad !== undefined) return { ok: false, reason: `unknown key ${show(bad)} in a range (expected min and/or max)` };
    if (keys.length === 0) return { ok: false, reason: 'an empty range: give min and/or max' };
    if (o.min !== undefined) {
      const r = parseValue(o.min, kind);
      if (!r.ok) return { ok: false, reason: `min: ${r.reason}` };
      min = r.n;
    }
    if (o.max !== undefined) {
      const r = parseValue(o.max, kind);
      if (!r.ok) return { ok: false, reason: `max: ${r.reason}` };
      max = r.n;
    }
    if (min > max) return { ok: false, reason: `the range min ${min} .. max ${max} is empty` };
    return { ok: true, min, max };
  }
  if (typeof v === 'number') {
    const r = parseValue(v, kind);
    return r.ok ? { ok: true, min: r.n, max: r.n } : r;
  }
  if (typeof v !== 'string') return { ok: false, reason: `${expected(kind)}, got ${show(v)}` };
  const s = v.trim();
  const op = /^(>=|<=|==|=|>|<)\s*(.*)$/.exec(s);
  if (op) {
    const r = parseValue(op[2], kind);
    if (!r.ok) return { ok: false, reason: `${expected(kind)}: ${r.reason}` };
    switch (op[1]) {
      case '>=': min = r.n; break;
      case '>': min = r.n + 1; break;
      case '<=': max = r.n; break;
      case '<':
        if (r.n === 0) return { ok: false, reason: `${show(v)} matches nothing` };
        max = r.n - 1; break;
      default: min = max = r.n;
    }
    if (min > lim) return { ok: false, reason: `${show(v)} matches nothing` };
    return { ok: true, min, max };
  }
  const dash = /^([^-]+?)\s*-\s*([^-]+)$/.exec(s);
  if (dash) {
    const a = parseValue(dash[1], kind);
    if (!a.ok) return { ok: false, reason: `${expected(kind)}: ${a.reason}` };
    const b = parseValue(dash[2], kind);
    if (!b.ok) return { ok: false, reason: `${expected(kind)}: ${b.reason}` };
    if (a.n > b.n) return { ok: false, reason: `the range ${show(v)} is empty (${a.n} > ${b.n})` };
    return { ok: true, min: a.n, max: b.n };
  }
  const r = parseValue(s, kind);
  if (!r.ok) return { ok: false, reason: `${expected(kind)}: ${r.reason}` };
  return { ok: true, min: r.n, max: r.n };
}

/** True when x lies in one of the flat [min, max, ...] ranges. */
export function inRanges(ranges: readonly number[], x: number): boolean {
  for (let i = 0; i < ranges.length; i += 2) if (x >= ranges[i] && x <= ranges[i + 1]) return true;
  return false;
}

/** Writes a range back for messages: "1000-1999", ">= 1048576", "4096". */
export function formatRange(min: number, max: number, kind: RangeKind): string {
  const lim = LIMIT[kind];
  if (min === max) return String(min);
  if (max >= lim) return `>= ${min}`;
  if (min === 0) return `<= ${max}`;
  return `${min}-${max}`;
}

export function formatRanges(ranges: readonly number[], kind: RangeKind): string {
  const out: string[] = [];
  for (let i = 0; i < ranges.length; i += 2) out.push(formatRange(ranges[i], ranges[i + 1], kind));
  return out.join(', ');
}
