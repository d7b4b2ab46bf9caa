// What a compiled rule is, and the primitives a decision is made of (access
// bits, content tests, the guarded calls of the lazy sources). Shared by the
// generated decision (compile.ts), the Policy that builds it (match.ts) and
// `passfs policy explain` (explain.ts).
import { ContentTest, MatchSpec, MODE_BIT } from './schema.js';
import { Access, Decision, ProcessInfo } from './types.js';

/** A rule ready for matching. */
export interface CompiledRule {
  readonly index: number;
  readonly name: string;
  readonly line: number;
  readonly description?: string;
  readonly match: MatchSpec;
  /** No conditions: matches every open. */
  readonly always: boolean;
  readonly typeMask: number;
  readonly modeMask: number;
  readonly decision: Decision;
  readonly summary: string;
}

/** The bits of MODE_BIT an access sets. */
export function accessBits(a: Access): number {
  let b = 0;
  if (a.read) b |= MODE_BIT.read;
  if (a.write) b |= MODE_BIT.write;
  if (a.read && a.write) b |= MODE_BIT['read-write'];
  if (a.read && !a.write) b |= MODE_BIT['read-only'];
  if (a.write && !a.read) b |= MODE_BIT['write-only'];
  if (a.create) b |= MODE_BIT.create;
  if (a.truncate) b |= MODE_BIT.truncate;
  return b;
}

/** The bytes as a string with one char per byte (latin1), for content patterns. */
export function bytesToLatin1(b: Uint8Array, n: number): string {
  const len = Math.min(n, b.length);
  return Buffer.from(b.buffer, b.byteOffset, len).toString('latin1');
}

export function magicMatches(magic: Uint8Array, content: Uint8Array): boolean {
  if (content.length < magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (content[i] !== magic[i]) return false;
  return true;
}

/** Content tests (OR). `text` caches the latin1 form of the first `want` bytes. */
export function contentMatches(tests: readonly ContentTest[], content: Uint8Array, cache: { text?: string }, want: number): boolean {
  for (let i = 0; i < tests.length; i++) {
    const t = tests[i];
    if (t.kind === 'magic') {
      if (magicMatches(t.magic, content)) return true;
    } else {
      if (cache.text === undefined) cache.text = bytesToLatin1(content, want);
      const s = cache.text.length > t.bytes ? cache.text.slice(0, t.bytes) : cache.text;
      if (t.re.test(s)) return true;
    }
  }
  return false;
}

const NO_PROCESS: ProcessInfo = Object.freeze({});

/** The lazily read size, or `fallback` when the source fails. */
export function callSize(f: () => number, fallback: number): number {
  try {
    const n = f();
    return Number.isFinite(n) && n >= 0 ? n : fallback;
  } catch {
    return fallback;
  }
}

export function callProcess(f: () => ProcessInfo): ProcessInfo {
  try {
    const p = f();
    return p && typeof p === 'object' ? p : NO_PROCESS;
  } catch {
    return NO_PROCESS;
  }
}

export function callContent(f: (bytes: number) => Uint8Array | undefined, bytes: number): Uint8Array | undefined {
  try {
    const c = f(bytes);
    return c instanceof Uint8Array ? c : undefined;
  } catch {
    return undefined;
  }
}

