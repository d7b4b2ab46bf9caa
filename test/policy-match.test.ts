// Property tests for the policy matcher: decide() against a naive reference
// (first match wins, every key, lists are OR), glob semantics on generated
// paths, range boundaries, and metamorphic properties of rule order.
// No mount, no root needed. PASSFS_SEED=<n> replays; the seed is printed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import picomatch from 'picomatch';
import { stringify } from 'yaml';
import { explain, loadPolicy, OpenContext, Policy } from '../src/policy/index.js';
import { globOptions } from '../src/policy/glob.js';

const SEED = Number(process.env.PASSFS_SEED ?? 1234567);
process.stdout.write(`policy-match: PASSFS_SEED=${SEED}\n`);
const params = (numRuns: number) => ({ seed: SEED, numRuns });

// ---------- reference implementations (deliberately naive) ----------

/** One path segment against one glob segment: `*` any run, `?` one char, the rest literal. */
function refSegment(p: string, s: string): boolean {
  if (p === '') return s === '';
  if (p[0] === '*') {
    for (let k = 0; k <= s.length; k++) if (refSegment(p.slice(1), s.slice(k))) return true;
    return false;
  }
  if (s === '') return false;
  if (p[0] === '?' || p[0] === s[0]) return refSegment(p.slice(1), s.slice(1));
  return false;
}

/** The documented glob semantics: `**` segments match zero or more segments; dotfiles are not special. */
function refGlob(pattern: string, path: string): boolean {
  const ps = pattern.split('/');
  const xs = path.split('/');
  const go = (i: number, j: number): boolean => {
    if (i === ps.length) return j === xs.length;
    if (ps[i] === '**') return go(i + 1, j) || (j < xs.length && go(i, j + 1));
    return j < xs.length && refSegment(ps[i], xs[j]) && go(i + 1, j + 1);
  };
  return go(0, 0);
}

type Range = [number, number];
const U32 = 0xffffffff;

interface RefRule {
  path?: string[];
  type?: string[];
  uid?: Range[];
  gid?: Range[];
  comm?: string[];
  mode?: string[];
  size?: Range[];
  magic?: string[]; // hex
  action: 'passthrough' | 'mediated' | 'deny';
  audit?: boolean;
  errno?: string;
}

const ERRNOS: Record<string, number> = { EACCES: 13, EPERM: 1, ENOENT: 2, EROFS: 30, EIO: 5, EBUSY: 16, ETXTBSY: 26, EAGAIN: 11 };

function refMode(m: string, a: OpenContext['access']): boolean {
  switch (m) {
    case 'read': return a.read;
    case 'write': return a.write;
    case 'read-write': return a.read && a.write;
    case 'read-only': return a.read && !a.write;
    case 'write-only': return a.write && !a.read;
    case 'create': return a.create;
    case 'truncate': return a.truncate;
  }
  throw new Error(m);
}

const hexOf = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : undefined);
const inR = (rs: Range[], x: number) => rs.some(([a, b]) => a <= x && x <= b);

function refMatches(r: RefRule, c: OpenContext): boolean {
  if (r.path && !r.path.some((g) => refGlob(g, c.path))) return false;
  if (r.type && !r.type.includes(c.type)) return false;
  if (r.uid && !inR(r.uid, c.uid)) return false;
  if (r.gid && !inR(r.gid, c.gid)) return false;
  if (r.comm && (c.comm === undefined || !r.comm.some((g) => refSegment(g, c.comm!)))) return false;
  if (r.mode && !r.mode.some((m) => refMode(m, c.access))) return false;
  if (r.size && !inR(r.size, c.size)) return false;
  if (r.magic) {
    const h = hexOf(c.content);
    if (h === undefined || !r.magic.some((m) => h.startsWith(m))) return false;
  }
  return true;
}

function refDecide(rules: RefRule[], dflt: RefRule, c: OpenContext) {
  const i = rules.findIndex((r) => refMatches(r, c));
  const r = i < 0 ? dflt : rules[i];
  return {
    ruleIndex: i,
    action: r.action,
    audit: r.action === 'mediated' && r.audit === true,
    errno: r.action === 'deny' ? ERRNOS[r.errno ?? 'EACCES'] : 0,
  };
}

// ---------- generators ----------

const NAMES = ['a', 'b', 'ab', '.a', '.git', 'x.jpg', '.jpg', 'y.txt', 'a.b.c', '-', '_z', '...'];
const segment = fc.constantFrom(...NAMES);
const relPath = fc.array(segment, { minLength: 1, maxLength: 4 }).map((xs) => xs.join('/'));

/** A glob segment: literal, or built from literal pieces, `*` and `?`. */
const globSegment = fc.oneof(
  { weight: 3, arbitrary: segment },
  { weight: 2, arbitrary: fc.array(fc.constantFrom('a', 'b', '.', 'x', 'jpg', '*', '?'), { minLength: 1, maxLength: 4 }).map((xs) => xs.join('')) },
  { weight: 2, arbitrary: fc.constant('**') },
  { weight: 1, arbitrary: fc.constantFrom('*', '*.jpg', '.*', '*.*') },
);
const glob = fc
  .array(globSegment, { minLength: 1, maxLength: 4 })
  .map((xs) => xs.join('/'))
  // `***`, `a**b`: picomatch reads stars next to `**` as one star; keep to the documented forms.
  .filter((g) => !/\*\*\*|[^/]\*\*|\*\*[^/]/.test(g) && !g.split('/').some((s) => s === '.' || s === '..'));

const uidRange: fc.Arbitrary<Range> = fc
  .tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 3000 }))
  .map(([a, b]) => (a <= b ? [a, b] : [b, a]));
const sizeRange: fc.Arbitrary<Range> = fc
  .tuple(fc.integer({ min: 0, max: 1 << 22 }), fc.integer({ min: 0, max: 1 << 22 }))
  .map(([a, b]) => (a <= b ? [a, b] : [b, a]));

/** How a range is written in the file: every syntax the loader takes. */
function writeRange([a, b]: Range, kind: 'id' | 'size', style: number): unknown {
  const lim = kind === 'id' ? U32 : Number.MAX_SAFE_INTEGER;
  const unit = (n: number) => (kind === 'size' && n % 1024 === 0 && n > 0 ? `${n / 1024}K` : String(n));
  if (a === b && style % 2 === 0) return kind === 'size' ? unit(a) : a;
  switch (style % 4) {
    case 0: return `${unit(a)}-${unit(b)}`;
    case 1: return { min: kind === 'size' ? unit(a) : a, max: b };
    case 2: return b === lim ? `>= ${unit(a)}` : a === 0 ? `<= ${unit(b)}` : `${a} - ${b}`;
    default: return b === lim ? (a === 0 ? '>= 0' : `> ${a - 1}`) : a === 0 ? `< ${b + 1}` : { min: a, max: unit(b) };
  }
}

const MODES = ['read', 'write', 'read-write', 'read-only', 'write-only', 'create', 'truncate'] as const;
const TYPES = ['file', 'dir', 'symlink', 'other'] as const;
const COMMS = ['cat', 'rsync', 'node', 'kworker/0:1', 'python3'];
const COMM_GLOBS = ['cat', 'rs*', '*', 'py*3', 'n?de', 'k*'];
const MAGICS = ['7f', '7f454c46', '2550', '00', 'ff00'];

const KEY_ARBS = {
  path: fc.array(glob, { minLength: 1, maxLength: 3 }),
  type: fc.uniqueArray(fc.constantFrom(...TYPES), { minLength: 1, maxLength: 2 }),
  uid: fc.array(uidRange, { minLength: 1, maxLength: 2 }),
  gid: fc.array(uidRange, { minLength: 1, maxLength: 2 }),
  comm: fc.uniqueArray(fc.constantFrom(...COMM_GLOBS), { minLength: 1, maxLength: 2 }),
  mode: fc.uniqueArray(fc.constantFrom(...MODES), { minLength: 1, maxLength: 3 }),
  size: fc.array(sizeRange, { minLength: 1, maxLength: 2 }),
  magic: fc.uniqueArray(fc.constantFrom(...MAGICS), { minLength: 1, maxLength: 2 }),
};
type Key = keyof typeof KEY_ARBS;

// Rules with zero to three keys (more would rarely match a random open).
const refRule: fc.Arbitrary<RefRule> = fc
  .uniqueArray(fc.constantFrom(...(Object.keys(KEY_ARBS) as Key[])), { maxLength: 3 })
  .chain((keys) => fc.record(Object.fromEntries(keys.map((k) => [k, KEY_ARBS[k]])) as { [K in Key]?: (typeof KEY_ARBS)[K] }) as fc.Arbitrary<Partial<RefRule>>)
  .chain((m) =>
    fc.oneof(
      fc.constant<RefRule>({ ...m, action: 'passthrough' }),
      fc.boolean().map((audit): RefRule => ({ ...m, action: 'mediated', audit })),
      fc.option(fc.constantFrom(...Object.keys(ERRNOS)), { nil: undefined }).map((errno): RefRule => ({ ...m, action: 'deny', errno })),
    ),
  );

/** The policy file for reference rules, with a random choice of syntax for each value. */
function writePolicy(rules: RefRule[], dflt: RefRule, style: number): string {
  const one = <T>(xs: T[], i: number): T | T[] => (xs.length === 1 && (style + i) % 2 === 0 ? xs[0] : xs);
  const doc = {
    version: 1,
    default: dflt.action === 'deny' && dflt.errno ? { action: 'deny', errno: dflt.errno } : dflt.audit ? { action: 'mediated', audit: true } : dflt.action,
    rules: rules.map((r, i) => {
      const match: Record<string, unknown> = {};
      if (r.path) match.path = one(r.path, i);
      if (r.type) match.type = one(r.type, i);
      if (r.uid) match.uid = one(r.uid.map((x, k) => writeRange(x, 'id', style + i + k)), i);
      if (r.gid) match.gid = one(r.gid.map((x, k) => writeRange(x, 'id', style + i + k + 1)), i);
      if (r.comm) match.comm = one(r.comm, i);
      if (r.mode) match.mode = one(r.mode, i);
      if (r.size) match.size = one(r.size.map((x, k) => writeRange(x, 'size', style + i + k)), i);
      if (r.magic) match.content = one(r.magic.map((m, k) => ({ magic: (style + k) % 3 === 0 ? m.replace(/(..)(?=.)/g, '$1 ') : m })), i);
      const out: Record<string, unknown> = { name: `r${i}` };
      if (Object.keys(match).length || (style + i) % 3 !== 0) out.match = match;
      out.action = r.action;
      if (r.audit !== undefined) out.audit = r.audit;
      if (r.errno !== undefined) out.errno = r.errno;
      return out;
    }),
  };
  return stringify(doc, { collectionStyle: style % 5 === 0 ? 'flow' : 'any' });
}

const access = fc.record({ read: fc.boolean(), write: fc.boolean(), create: fc.boolean(), truncate: fc.boolean() });
const ctxArb: fc.Arbitrary<OpenContext> = fc.record({
  path: relPath,
  type: fc.constantFrom(...TYPES),
  uid: fc.oneof(fc.integer({ min: 0, max: 3001 }), fc.constantFrom(0, 1000, 1999, 2000, U32)),
  gid: fc.oneof(fc.integer({ min: 0, max: 3001 }), fc.constantFrom(0, 100, U32)),
  pid: fc.integer({ min: 1, max: 1 << 22 }),
  comm: fc.option(fc.constantFrom(...COMMS), { nil: undefined }),
  access,
  size: fc.oneof(fc.integer({ min: 0, max: 1 << 22 }), fc.constantFrom(0, 1024, 4096, 1 << 20)),
  content: fc.option(
    fc.oneof(
      fc.uint8Array({ maxLength: 8 }),
      fc.constantFrom(Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 2), Uint8Array.of(0x25, 0x50, 0x44, 0x46), Uint8Array.of(0xff)),
    ),
    { nil: undefined },
  ),
});

const dfltArb: fc.Arbitrary<RefRule> = fc.oneof(
  fc.constant<RefRule>({ action: 'passthrough' }),
  fc.constant<RefRule>({ action: 'mediated', audit: true }),
  fc.constant<RefRule>({ action: 'mediated' }),
  fc.constantFrom(...Object.keys(ERRNOS)).map((errno): RefRule => ({ action: 'deny', errno })),
);

function decisionOf(p: Policy, c: OpenContext) {
  const d = p.decide(c);
  return { ruleIndex: d.ruleIndex, action: d.action, audit: d.audit, errno: d.errno };
}

// ---------- properties ----------

test('glob semantics: compiled path globs agree with the reference and with picomatch', () => {
  const pm = new Map<string, (s: string) => boolean>();
  fc.assert(
    fc.property(fc.array(glob, { minLength: 1, maxLength: 3 }), fc.array(relPath, { minLength: 1, maxLength: 20 }), (globs, paths) => {
      const policy = loadPolicy(stringify({ version: 1, default: 'passthrough', rules: [{ name: 'g', match: { path: globs }, action: 'deny' }] }), 'g.yaml');
      for (const p of paths) {
        const want = globs.some((g) => refGlob(g, p));
        const ctx: OpenContext = { path: p, type: 'file', uid: 0, gid: 0, pid: 1, access: { read: true, write: false, create: false, truncate: false }, size: 0 };
        const got = policy.decide(ctx).ruleIndex === 0;
        if (got !== want) throw new Error(`globs ${JSON.stringify(globs)} on ${JSON.stringify(p)}: decide says ${got}, reference ${want}`);
        // Given the path's parts instead (as the daemon does), the path string is not read.
        const parts = p === '' ? [''] : p.split('/');
        const view = { name: parts[parts.length - 1], top: parts[0], depth: p === '' ? 0 : parts.length };
        const byView = policy.decide({ ...ctx, path: policy.needs.path === 'view' ? '\0' : p, view }).ruleIndex === 0;
        if (byView !== want) throw new Error(`globs ${JSON.stringify(globs)} on ${JSON.stringify(view)}: decide by view says ${byView}, reference ${want}`);
        // picomatch itself, except for a trailing "/**" where passfs deliberately
        // also matches zero segments after a wildcard (see src/policy/glob.ts).
        for (const g of globs.filter((x) => !x.endsWith('/**'))) {
          if (!pm.has(g)) pm.set(g, picomatch(g, globOptions('path')));
          if (pm.get(g)!(p) !== refGlob(g, p)) throw new Error(`picomatch(${JSON.stringify(g)}) on ${JSON.stringify(p)} disagrees with the reference`);
        }
      }
    }),
    params(600),
  );
});

test('glob shapes tested without regexes agree with the reference on their edge cases', () => {
  // One glob of each shape src/policy/glob.ts tests by string comparison, and
  // one it leaves to picomatch, against paths at their boundaries.
  const globs = ['**', 'a/b.jpg', '**/b.jpg', '**/*.jpg', '*.jpg', 'a/**', 'a/b/**', 'a/**/*.jpg', 'a/**/*', '**/*', 'a/*.jpg'];
  const paths = ['a', 'b.jpg', '.jpg', 'jpg', 'a.jpg', 'a/b.jpg', 'a/.jpg', 'a/jpg', 'ab.jpg', 'a/b', 'a/b/c.jpg', 'b/a/x.jpg', 'ab/x.jpg', 'a/b/.jpg', 'xa/b.jpg', 'a/bb.jpg'];
  for (const g of globs) {
    const policy = loadPolicy(stringify({ version: 1, default: 'passthrough', rules: [{ name: 'g', match: { path: g }, action: 'deny' }] }), 'g.yaml');
    for (const p of paths) {
      const got = policy.decide({ path: p, type: 'file', uid: 0, gid: 0, pid: 1, access: { read: true, write: false, create: false, truncate: false }, size: 0 }).ruleIndex === 0;
      assert.is(got, refGlob(g, p), `${JSON.stringify(g)} on ${JSON.stringify(p)}`);
    }
  }
});

test('dotfiles are matched by *, ? and ** (a deny rule cannot be sidestepped by a leading dot)', () => {
  const p = loadPolicy('version: 1\ndefault: passthrough\nrules:\n  - {name: s, match: {path: "secrets/**"}, action: deny}\n  - {name: q, match: {path: "?env"}, action: deny}\n  - {name: d, match: {path: "**/.*"}, action: mediated}\n', 'd.yaml');
  const at = (path: string) => p.decide({ path, type: 'file', uid: 0, gid: 0, pid: 1, access: { read: true, write: false, create: false, truncate: false }, size: 0 }).rule;
  assert.is(at('secrets/.env'), 's');
  assert.is(at('secrets/.git/config'), 's');
  assert.is(at('secrets'), 's');
  assert.is(at('.env'), 'q');
  assert.is(at('a/.bashrc'), 'd');
  assert.is(at('.ssh/id'), 'default');
  assert.is(at('a/b'), 'default');
});

test('a trailing /** also matches the directory itself, after a literal or a wildcard', () => {
  const p = loadPolicy('version: 1\ndefault: passthrough\nrules:\n  - {name: w, match: {path: ["*/**", "x/*/**"]}, action: deny}\n  - {name: n, match: {path: "!a/**"}, action: mediated}\n', 'd.yaml');
  const at = (path: string) => p.decide({ path, type: 'file', uid: 0, gid: 0, pid: 1, access: { read: true, write: false, create: false, truncate: false }, size: 0 }).rule;
  assert.is(at('a'), 'w'); // picomatch alone says no
  assert.is(at('a/b/c'), 'w');
  assert.is(at('x/y'), 'w');
  const q = loadPolicy('version: 1\ndefault: passthrough\nrules:\n  - {name: n, match: {path: "!a/**"}, action: mediated}\n', 'd.yaml');
  const at2 = (path: string) => q.decide({ path, type: 'file', uid: 0, gid: 0, pid: 1, access: { read: true, write: false, create: false, truncate: false }, size: 0 }).rule;
  assert.is(at2('a'), 'default');
  assert.is(at2('a/b'), 'default');
  assert.is(at2('b'), 'n');
  assert.is(at2('ab/c'), 'n');
});

test('first match wins: decide() agrees with a naive reference on random policies and opens', () => {
  const seen = { byRule: 0, byLaterRule: 0, byDefault: 0 };
  fc.assert(
    fc.property(
      fc.array(refRule, { maxLength: 8 }),
      dfltArb,
      fc.nat(100),
      fc.array(ctxArb, { minLength: 1, maxLength: 15 }),
      (rules, dflt, style, ctxs) => {
        const text = writePolicy(rules, dflt, style);
        const policy = loadPolicy(text, 'prop.yaml');
        assert.equal(policy.rules.map((r) => r.name), rules.map((_, i) => `r${i}`));
        for (const c of ctxs) {
          const want = refDecide(rules, dflt, c);
          if (want.ruleIndex < 0) seen.byDefault++;
          else seen.byRule++;
          if (want.ruleIndex > 0) seen.byLaterRule++;
          const got = decisionOf(policy, c);
          if (JSON.stringify(got) !== JSON.stringify(want)) {
            throw new Error(`policy:\n${text}\nctx ${JSON.stringify({ ...c, content: hexOf(c.content) })}\ngot ${JSON.stringify(got)} want ${JSON.stringify(want)}`);
          }
          // explain tells the same story.
          const lines = explain(policy, c);
          const last = lines[lines.length - 1];
          assert.ok(want.ruleIndex < 0 ? last.includes('by the default') : last.includes(`by rules[${want.ruleIndex}]`), last);
          const firstMatch = lines.findIndex((l) => / MATCH: /.test(l));
          assert.is(firstMatch < 0 ? -1 : firstMatch - 1, want.ruleIndex);
        }
      },
    ),
    params(400),
  );
  // Not a vacuous property: opens were decided by first rules, later rules and the default.
  const total = seen.byRule + seen.byDefault;
  assert.ok(seen.byRule > total / 5 && seen.byDefault > total / 10 && seen.byLaterRule > total / 20, JSON.stringify(seen));
});

test('rule order: a catch-all put first decides everything; rules after the deciding rule change nothing', () => {
  fc.assert(
    fc.property(fc.array(refRule, { minLength: 1, maxLength: 6 }), fc.array(refRule, { maxLength: 4 }), dfltArb, fc.array(ctxArb, { minLength: 1, maxLength: 10 }), (rules, extra, dflt, ctxs) => {
      const base = loadPolicy(writePolicy(rules, dflt, 1), 'a.yaml');
      const longer = loadPolicy(writePolicy([...rules, ...extra], dflt, 2), 'b.yaml');
      const first = loadPolicy(writePolicy([{ action: 'deny', errno: 'EROFS' }, ...rules], dflt, 3), 'c.yaml');
      assert.is(first.warnings.filter((w) => w.includes('never reached')).length, rules.length, 'rules after a catch-all are reported as never reached');
      for (const c of ctxs) {
        const d = base.decide(c);
        const e = longer.decide(c);
        if (d.ruleIndex >= 0) assert.equal([e.ruleIndex, e.action, e.errno], [d.ruleIndex, d.action, d.errno]);
        const f = first.decide(c);
        assert.equal([f.ruleIndex, f.action, f.errno], [0, 'deny', 30]);
      }
    }),
    params(200),
  );
});

test('uid and gid ranges: both ends included, one past them excluded, in every syntax', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: U32 }), fc.integer({ min: 0, max: U32 }), fc.nat(7), (x, y, style) => {
      const [a, b] = x <= y ? [x, y] : [y, x];
      const written = writeRange([a, b], 'id', style);
      const p = loadPolicy(stringify({ version: 1, default: 'passthrough', rules: [{ name: 'u', match: { uid: written, gid: [written] }, action: 'deny' }] }), 'u.yaml');
      const hit = (uid: number, gid: number) =>
        p.decide({ path: 'f', type: 'file', uid, gid, pid: 1, access: { read: true, write: false, create: false, truncate: false }, size: 0 }).ruleIndex === 0;
      assert.ok(hit(a, a) && hit(b, b) && hit(a, b), `${JSON.stringify(written)} includes ${a} and ${b}`);
      if (a > 0) assert.not.ok(hit(a - 1, a), `${JSON.stringify(written)} excludes ${a - 1}`);
      if (b < U32) assert.not.ok(hit(b, b + 1), `${JSON.stringify(written)} excludes ${b + 1}`);
    }),
    params(500),
  );
});

test('size ranges: operators, units and {min, max} at their boundaries', () => {
  const units = { B: 1, K: 1024, KiB: 1024, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 } as const;
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5000 }), fc.constantFrom(...(Object.keys(units) as (keyof typeof units)[])), fc.constantFrom('>=', '>', '<=', '<', '=', ''), (n, u, op) => {
      const v = n * units[u];
      const spec = `${op}${op && n % 2 ? ' ' : ''}${n}${u}`;
      const p = loadPolicy(`version: 1\ndefault: passthrough\nrules:\n  - name: s\n    match: { size: "${spec}" }\n    action: mediated\n`, 's.yaml');
      const hit = (size: number) =>
        p.decide({ path: 'f', type: 'file', uid: 0, gid: 0, pid: 1, access: { read: true, write: false, create: false, truncate: false }, size }).ruleIndex === 0;
      const want = (s: number) => (op === '>=' ? s >= v : op === '>' ? s > v : op === '<=' ? s <= v : op === '<' ? s < v : s === v);
      for (const s of [v - 1, v, v + 1, 0]) assert.is(hit(s), want(s), `size ${s} against "${spec}" (${v})`);
    }),
    params(500),
  );
  fc.assert(
    fc.property(sizeRange, fc.nat(7), ([a, b], style) => {
      const written = writeRange([a, b], 'size', style);
      const p = loadPolicy(stringify({ version: 1, default: 'passthrough', rules: [{ name: 's', match: { size: written }, action: 'deny' }] }), 's.yaml');
      const hit = (size: number) =>
        p.decide({ path: 'f', type: 'file', uid: 0, gid: 0, pid: 1, access: { read: true, write: false, create: false, truncate: false }, size }).ruleIndex === 0;
      assert.ok(hit(a) && hit(b), `${JSON.stringify(written)} includes ${a} and ${b}`);
      if (a > 0) assert.not.ok(hit(a - 1), `${JSON.stringify(written)} excludes ${a - 1}`);
      assert.not.ok(hit(b + 1), `${JSON.stringify(written)} excludes ${b + 1}`);
    }),
    params(500),
  );
});

test('lazy inputs: decide() with lazy process/content sources equals decide() with the values given', () => {
  fc.assert(
    fc.property(fc.array(refRule, { maxLength: 6 }), dfltArb, fc.array(ctxArb, { minLength: 1, maxLength: 10 }), fc.constantFrom(undefined, '/usr/bin/cat'), (rules, dflt, ctxs, exe) => {
      const policy = loadPolicy(writePolicy(rules, dflt, 4), 'l.yaml');
      for (const c of ctxs) {
        const eager = policy.decide({ ...c, exe });
        let calls = 0;
        const lazy = policy.decide({
          ...c,
          comm: undefined,
          exe: undefined,
          content: undefined,
          lazy: {
            process: () => (calls++, { comm: c.comm, exe }),
            content: (n) => (calls++, c.content?.subarray(0, n)),
          },
        });
        assert.is(lazy, eager, 'the same (frozen, shared) Decision object');
        assert.ok(calls <= 2);
        if (!policy.needs.process && !policy.needs.content) assert.is(calls, 0);
      }
    }),
    params(200),
  );
});
test.run();
