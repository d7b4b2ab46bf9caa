// Fuzzed policy files: random strings, random YAML-ish documents built from
// the policy's own vocabulary, and mutations of the valid examples. Whatever
// the input, loadPolicy either returns a working Policy or throws a
// PolicyError whose message is one line, "FILE:LINE: ..." or "FILE: ...",
// with a reason. Seeded: PASSFS_SEED=<n> replays; the seed is printed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { explain, loadPolicy, OpenContext, Policy, PolicyError } from '../src/policy/index.js';

const SEED = Number(process.env.PASSFS_SEED ?? 424242);
process.stdout.write(`policy-fuzz: PASSFS_SEED=${SEED}\n`);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const EXAMPLES = [...fs.readFileSync(path.join(ROOT, 'docs/policy.md'), 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);

const CTXS: OpenContext[] = [
  { path: 'secrets/.env', type: 'file', uid: 1000, gid: 100, pid: 1, comm: 'rsync', exe: '/usr/bin/rsync', access: { read: true, write: false, create: false, truncate: false }, size: 0, content: Uint8Array.of(0x7f, 0x45, 0x4c, 0x46) },
  { path: 'a/b/c.jpg', type: 'file', uid: 0, gid: 0, pid: 1, access: { read: true, write: true, create: true, truncate: true }, size: 2 ** 30, content: new Uint8Array(0) },
  { path: 'x', type: 'dir', uid: 4294967295, gid: 4294967295, pid: 1, access: { read: false, write: true, create: false, truncate: false }, size: 5, lazy: { process: () => ({ comm: 'cat' }), content: (n) => new Uint8Array(n) } },
];

const BAD_WORDS = /Invalid input|\[object |undefined|NaN|expected nonoptional/;
const stats = { loaded: 0, refused: 0 };

/** The property: a Policy that works, or a clear PolicyError. */
function check(text: string): void {
  let p: Policy;
  try {
    p = loadPolicy(text, 'fuzz.yaml');
  } catch (e) {
    if (!(e instanceof PolicyError)) throw new Error(`threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} for ${JSON.stringify(text)}`);
    const m = e.message;
    if (!/^fuzz\.yaml(:\d+)?: \S/.test(m) || !/:\d+: |: /.test(m)) throw new Error(`message without FILE[:LINE]: ${JSON.stringify(m)} for ${JSON.stringify(text)}`);
    if (m.includes('\n') || BAD_WORDS.test(m)) throw new Error(`unclear message ${JSON.stringify(m)} for ${JSON.stringify(text)}`);
    const lines = text.split('\n').length;
    for (const i of e.issues) {
      if (!(i.reason.trim().length > 3)) throw new Error(`issue without a reason: ${JSON.stringify(i)}`);
      if (i.line < 0 || i.line > lines + 1) throw new Error(`line ${i.line} outside the file (${lines} lines): ${JSON.stringify(i)}`);
    }
    stats.refused++;
    return;
  }
  assert.ok(p instanceof Policy);
  for (const c of CTXS) {
    const d = p.decide(c);
    assert.ok(['passthrough', 'mediated', 'deny'].includes(d.action));
    assert.ok(d.ruleIndex >= -1 && d.ruleIndex < p.rules.length);
    assert.is(d.errno > 0, d.action === 'deny');
    const lines = explain(p, c);
    assert.is(lines.length, p.rules.length + 2);
  }
  stats.loaded++;
}

// ---------- random strings ----------

test('random strings never crash the loader', () => {
  const yamlChars = fc.constantFrom(...'ab01:-_ \n\t[]{},#&*!|>\'"%@`?.\\/~=<'.split(''), 'version', 'rules', ' - ', ': ', '\n  ', '---', '...');
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ unit: yamlChars, maxLength: 120 })), (s) => check(s)),
    { seed: SEED, numRuns: 1500 },
  );
});

// ---------- random YAML-ish documents ----------

const WORDS = [
  'version', 'default', 'rules', 'name', 'description', 'match', 'action', 'audit', 'errno', 'path', 'type', 'uid', 'gid',
  'comm', 'exe', 'mode', 'size', 'content', 'magic', 'pattern', 'bytes', 'flags', 'min', 'max',
  'passthrough', 'mediated', 'deny', 'EACCES', 'EPERM', 'eacces', 'file', 'dir', 'read', 'write', 'read-write', 'create',
  '**/*.jpg', 'secrets/**', '/abs', 'a/', '*', '', '>= 1M', '< 4K', '1K-1M', '1000-1999', '2000-1000', '7f454c46', '7f4',
  '(', '^#!', 'i', 'g', 'default', '__proto__', 'constructor', 'toString', '1.5K', '-1', '9999999999999999999',
];
const leaf = fc.oneof(
  fc.constantFrom(...WORDS),
  fc.integer({ min: -5, max: 70000 }),
  fc.constantFrom(0, 1, 2, 13, 4294967295, 4294967296, 1.5, -0, 1e300, Number.MAX_SAFE_INTEGER + 2),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 8 }),
);
const { value: anyValue } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('list'), tie('map')),
  list: fc.array(tie('value'), { maxLength: 4 }),
  map: fc.dictionary(fc.constantFrom(...WORDS), tie('value'), { maxKeys: 5 }),
}));

/** Documents shaped like policies, with wrong parts here and there. */
const policyish = fc.record(
  {
    version: fc.oneof(fc.constant(1), leaf),
    default: fc.oneof(fc.constantFrom('passthrough', 'mediated', 'deny'), fc.record({ action: leaf, audit: leaf, errno: leaf }, { requiredKeys: [] }), anyValue),
    rules: fc.oneof(
      fc.array(
        fc.record(
          {
            name: leaf,
            match: fc.oneof(fc.dictionary(fc.constantFrom(...WORDS.slice(9, 22)), anyValue, { maxKeys: 4 }), anyValue),
            action: fc.oneof(fc.constantFrom('passthrough', 'mediated', 'deny'), leaf),
            audit: leaf,
            errno: leaf,
          },
          { requiredKeys: ['action'] },
        ),
        { maxLength: 5 },
      ),
      anyValue,
    ),
  },
  { requiredKeys: [] },
);

test('random YAML-ish documents never crash the loader', () => {
  fc.assert(
    fc.property(fc.oneof(policyish, anyValue), fc.nat(5), (doc, style) => {
      let text: string;
      try {
        text = style === 5 ? JSON.stringify(doc) ?? 'null' : stringify(doc, { collectionStyle: style % 2 ? 'flow' : 'any', indent: 2 + (style % 3) });
      } catch {
        return; // not representable: nothing to test
      }
      check(text);
    }),
    { seed: SEED + 1, numRuns: 1500 },
  );
});

// ---------- mutations of valid examples ----------

const TOKENS = [':', ': ', '-', '- ', '[', ']', '{', '}', ',', '\n', '\n  ', '  ', '\t', '#', '"', "'", '*', '&a ', '*a', '!!binary ', '!x ',
  '|', '>', '?', '---\n', '...', '%YAML 1.1\n', '<<: ', 'version: 2', 'rules:', 'match:', 'action: ', 'errno: ', 'EACCES', 'nope',
  '>=', '1K-', '-1', '999999999999', 'audit: true', '**', '/', '\\', '\u0000', '\uffff', '\ud800', '\u2028', 'é'];

type Mutation = (s: string, a: number, b: number, t: string) => string;
const MUTATIONS: Mutation[] = [
  (s, a, b) => s.slice(0, a) + s.slice(a + (b % 12)), // delete a few chars
  (s, a, _b, t) => s.slice(0, a) + t + s.slice(a), // insert a token
  (s, a, b, t) => s.slice(0, a) + t + s.slice(a + (b % 6)), // replace
  (s, a, b) => { const l = s.split('\n'); const i = a % l.length; const j = b % l.length; [l[i], l[j]] = [l[j], l[i]]; return l.join('\n'); }, // swap lines
  (s, a) => { const l = s.split('\n'); const i = a % l.length; l.splice(i, 0, l[i]); return l.join('\n'); }, // duplicate a line
  (s, a) => { const l = s.split('\n'); l.splice(a % l.length, 1); return l.join('\n'); }, // drop a line
  (s, a, b) => { const l = s.split('\n'); const i = a % l.length; l[i] = b % 2 ? ` ${l[i]}` : l[i].replace(/^ /, ''); return l.join('\n'); }, // indentation
  (s, a) => s.slice(0, a), // truncate
  (s, a, b) => s.replace(/\d+/g, (m) => (((a + b) & 3) === 0 ? String(Number(m) * 1e6) : ((a & 1) ? '-' : '') + m)), // numbers
  (s, a, b) => { const w = s.match(/[a-z-]{3,}/g) ?? []; return w.length ? s.replace(w[a % w.length], w[b % w.length].split('').reverse().join('')) : s; }, // scramble a word
];

test('mutations of the valid examples never crash the loader', () => {
  const before = { ...stats };
  fc.assert(
    fc.property(
      fc.constantFrom(...EXAMPLES),
      fc.array(fc.tuple(fc.nat(MUTATIONS.length - 1), fc.nat(10000), fc.nat(10000), fc.constantFrom(...TOKENS)), { minLength: 1, maxLength: 5 }),
      (example, muts) => {
        let s = example;
        for (const [m, a, b, t] of muts) s = MUTATIONS[m](s, a % (s.length + 1), b, t);
        check(s);
      },
    ),
    { seed: SEED + 2, numRuns: 2500 },
  );
  // Both outcomes are exercised: mutants that still load, and refusals.
  const loaded = stats.loaded - before.loaded;
  const refused = stats.refused - before.refused;
  assert.ok(loaded > 100 && refused > 500, JSON.stringify({ loaded, refused }));
});

test.run();
