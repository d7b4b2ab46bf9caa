// The policy loader: the documented examples load, every kind of invalid input
// is refused with FILE:LINE: WHERE: REASON, and the helpers around decide()
// (errno table, /proc reader, access flags, explain) do what they say.
// No mount, no root needed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  accessFromFlags, ERRNO, errnoName, errnoNumber, explain, loadPolicy, loadPolicyFile, makeContext,
  normalizePolicyPath, OpenContext, parseAccessSpec, Policy, PolicyError, processInfo,
} from '../src/policy/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DOC = fs.readFileSync(path.join(ROOT, 'docs/policy.md'), 'utf8');

function refusal(text: string, file = 'policy.yaml'): PolicyError {
  try {
    loadPolicy(text, file);
  } catch (e) {
    if (e instanceof PolicyError) return e;
    throw new Error(`not a PolicyError: ${String(e)}`);
  }
  throw new Error(`loaded, but should have been refused:\n${text}`);
}

const ctx = (o: Partial<OpenContext> = {}): OpenContext => ({
  path: 'f', type: 'file', uid: 0, gid: 0, pid: 1, size: 0,
  access: { read: true, write: false, create: false, truncate: false }, ...o,
});

const P = (rules: string, dflt = 'passthrough') => `version: 1\ndefault: ${dflt}\nrules:\n${rules}`;

// ---------- valid files ----------

test('every yaml example in docs/policy.md loads, without warnings', () => {
  const blocks = [...DOC.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length >= 8, `found ${blocks.length} examples`);
  blocks.forEach((b, i) => {
    let p: Policy;
    try {
      p = loadPolicy(b, `example${i}.yaml`);
    } catch (e) {
      throw new Error(`docs example ${i} is refused: ${(e as Error).message}\n${b}`);
    }
    assert.equal(p.warnings, [], `example ${i}`);
    assert.ok(p.rules.length > 0);
  });
});

test('the issue example: rules, needs, decisions', () => {
  const p = loadPolicy(
    [
      'version: 1',
      'default: passthrough',
      'rules:',
      '  - name: secrets-denied',
      '    match: { path: ["secrets/**"] }',
      '    action: deny',
      '    errno: EACCES',
      '  - name: redact-media',
      '    match: { path: ["**/*.jpg"], mode: [read], uid: [1000-1999] }',
      '    action: mediated',
      '    audit: true',
      '  - name: elf-binaries',
      '    match: { content: { magic: "7f454c46" } }      # hex prefix',
      '    action: passthrough',
      '  - name: big-files',
      '    match: { size: ">= 64M", type: [file] }',
      '    action: passthrough',
      '',
    ].join('\n'),
    'policy.yaml',
  );
  assert.equal(p.rules.map((r) => r.name), ['secrets-denied', 'redact-media', 'elf-binaries', 'big-files']);
  assert.equal(p.rules.map((r) => r.line), [4, 8, 12, 15]);
  assert.equal({ ...p.needs }, { path: 'view', process: false, comm: false, exe: false, content: 4, size: true });
  assert.is(p.file, 'policy.yaml');
  assert.match(p.digest, /^[0-9a-f]{64}$/);

  const deny = p.decide(ctx({ path: 'secrets/a/.key' }));
  assert.equal({ ...deny, reason: undefined }, { action: 'deny', audit: false, errno: 13, rule: 'secrets-denied', ruleIndex: 0, reason: undefined });
  assert.match(deny.reason, /^rules\[0\] "secrets-denied" \(policy\.yaml:4\) matched: path "secrets\/\*\*" -> deny EACCES \(13\)$/);
  assert.ok(Object.isFrozen(deny));
  assert.is(p.decide(ctx({ path: 'secrets/b' })), deny, 'one shared Decision per rule');

  const media = p.decide(ctx({ path: 'a/b.jpg', uid: 1000 }));
  assert.equal([media.action, media.audit, media.errno, media.rule], ['mediated', true, 0, 'redact-media']);
  assert.is(p.decide(ctx({ path: 'a/b.jpg', uid: 2000 })).rule, 'default');
  assert.is(p.decide(ctx({ path: 'a/b.jpg', uid: 1999, access: { read: false, write: true, create: false, truncate: false } })).rule, 'default');
  assert.is(p.decide(ctx({ path: 'bin/ls', content: Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 2, 1) })).rule, 'elf-binaries');
  assert.is(p.decide(ctx({ path: 'bin/ls', content: Uint8Array.of(0x7f, 0x45, 0x4c) })).rule, 'default', 'shorter than the magic');
  assert.is(p.decide(ctx({ path: 'bin/ls' })).rule, 'default', 'content unknown: no match');
  assert.is(p.decide(ctx({ size: 64 * 2 ** 20 })).rule, 'big-files');
  assert.is(p.decide(ctx({ size: 64 * 2 ** 20, type: 'dir' })).rule, 'default');
  const d = p.decide(ctx({ size: 64 * 2 ** 20 - 1 }));
  assert.equal([d.rule, d.ruleIndex, d.action, d.errno], ['default', -1, 'passthrough', 0]);
  assert.is(d.reason, 'no rule matched: default (policy.yaml:2) -> passthrough');
});

test('defaults, errnos, names, lists and single values', () => {
  const p = loadPolicy(
    P(
      [
        '  - match: { path: a }',
        '    action: deny',
        '  - match: { path: b }',
        '    action: deny',
        '    errno: EROFS',
        '  - name: 42',
        '    match: { path: c, mode: write, type: file, uid: 7, gid: "5", comm: cat, size: 0 }',
        '    action: mediated',
        '',
      ].join('\n'),
      '{ action: deny, errno: ENOENT }',
    ),
    'p.yaml',
  );
  assert.equal(p.rules.map((r) => r.name), ['rules[0]', 'rules[1]', '42']);
  assert.equal([p.decide(ctx({ path: 'a' })).errno, p.decide(ctx({ path: 'b' })).errno], [13, 30]);
  assert.equal({ ...p.default }, { action: 'deny', audit: false, errno: 2, rule: 'default', ruleIndex: -1, reason: 'no rule matched: default (p.yaml:2) -> deny ENOENT (2)' });
  const c = ctx({ path: 'c', access: { read: true, write: true, create: false, truncate: false }, uid: 7, gid: 5, comm: 'cat' });
  assert.is(p.decide(c).rule, '42');
  assert.is(p.decide({ ...c, comm: 'dog' }).rule, 'default');
  assert.is(p.decide({ ...c, comm: undefined }).rule, 'default');
  assert.equal({ ...p.needs }, { path: 'view', process: true, comm: true, exe: false, content: 0, size: true });

  const m = loadPolicy('version: 1\ndefault: {action: mediated, audit: true}\n', 'm.yaml');
  assert.equal([m.rules.length, m.default.action, m.default.audit], [0, 'mediated', true]);
  assert.is(loadPolicy('version: 1\ndefault: deny\nrules: []\n', 'x').default.errno, 13);
  assert.is(loadPolicy('version: 1\ndefault: deny\nrules:\n', 'x').rules.length, 0);
});

test('needs: only reachable rules count; content wants the largest prefix', () => {
  const p = loadPolicy(
    P(
      [
        '  - match: { content: [{ magic: "00 11 22" }, { pattern: "^#!", bytes: 100 }] }',
        '    action: passthrough',
        '  - match: { exe: "/usr/bin/*" }',
        '    action: deny',
        '  - name: everything',
        '    action: mediated',
        '  - match: { comm: x, size: 1, content: { pattern: y }, path: "**/{a,b}" }',
        '    action: deny',
        '',
      ].join('\n'),
    ),
    'n.yaml',
  );
  assert.equal({ ...p.needs }, { path: 'none', process: true, comm: false, exe: true, content: 100, size: false });
  assert.equal(p.warnings, ['n.yaml:10: rules[3]: never reached: rules[2] "everything" above matches every open']);
  assert.is(loadPolicy(P('  - match: { content: { pattern: a } }\n    action: deny\n'), 'x').needs.content, 512);
});

test('needs.path: "view" when every path glob reads only the last part, the first part and the depth', () => {
  const need = (...globs: string[]) => loadPolicy(P(`  - match: { path: ${JSON.stringify(globs)} }\n    action: deny\n`), 'v.yaml').needs.path;
  assert.is(need('**', 'a', 'a/b', '**/x', '**/*.pem', '*.log', 'secrets/**', 'a/**/*.jpg', 'a/**/*'), 'view');
  // A deeper literal, a directory of two parts, a regex glob, a negation: the whole path.
  for (const g of ['a/b/c', 'a/b/**', 'a/b/**/*.jpg', '**/{a,b}', 'a/*/c', '!a/**', '*/x']) assert.is(need('**/*.pem', g), 'full', g);
  assert.is(loadPolicy(P('  - match: { uid: 5 }\n    action: deny\n'), 'u.yaml').needs.path, 'none');
});

test('lazy sources are called once, and only when a reached rule needs them', () => {
  const p = loadPolicy(
    P(
      [
        '  - match: { path: "fast/**" }',
        '    action: deny',
        '  - match: { comm: "rs*" }',
        '    action: mediated',
        '  - match: { exe: "/bin/*" }',
        '    action: mediated',
        '  - match: { content: { magic: "4142" } }',
        '    action: deny',
        '    errno: EPERM',
        '',
      ].join('\n'),
    ),
    'l.yaml',
  );
  const calls = { process: 0, content: 0 };
  const lazy = {
    process: () => (calls.process++, { comm: 'bash', exe: '/usr/bin/bash' }),
    content: (n: number) => (calls.content++, Buffer.from('ABCDEF').subarray(0, n)),
  };
  assert.is(p.decide(ctx({ path: 'fast/x', lazy })).rule, 'rules[0]');
  assert.equal(calls, { process: 0, content: 0 });
  assert.is(p.decide(ctx({ path: 'slow/x', lazy })).rule, 'rules[3]');
  assert.equal(calls, { process: 1, content: 1 });
  const throwing = { process: () => { throw new Error('gone'); }, content: () => { throw new Error('EIO'); } };
  assert.is(p.decide(ctx({ path: 'slow/x', lazy: throwing })).rule, 'default', 'a failing source counts as unknown');
  assert.is(p.decide(ctx({ path: 'slow/x', comm: 'rsync', lazy })).rule, 'rules[1]');
});

test('content patterns: bytes as latin1, the window, flags', () => {
  const p = loadPolicy(
    P(
      [
        '  - name: nul-in-head',
        '    match: { content: { pattern: "\\\\x00", bytes: 4 } }',
        '    action: deny',
        '  - name: pdf',
        '    match: { content: { pattern: "^%pdf-", flags: i } }',
        '    action: mediated',
        '  - name: high-byte',
        '    match: { content: { pattern: "^\\\\xff\\\\xfe" } }',
        '    action: mediated',
        '',
      ].join('\n'),
    ),
    'c.yaml',
  );
  const at = (bytes: number[] | string) => p.decide(ctx({ content: typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Uint8Array.from(bytes) })).rule;
  assert.is(at([1, 2, 0, 3]), 'nul-in-head');
  assert.is(at([1, 2, 3, 4, 0]), 'default', 'past the 4-byte window');
  assert.is(at('%PDF-1.7'), 'pdf');
  assert.is(at([0xff, 0xfe, 0x41]), 'high-byte');
  assert.is(at([]), 'default');
});

// ---------- invalid files ----------

const INVALID: [string, string, RegExp][] = [
  ['YAML syntax', 'version: 1\ndefault: [passthrough\n', /^policy\.yaml:3: YAML: Flow sequence .*\]$/],
  ['tab indentation', 'version: 1\n\tdefault: deny\n', /^policy\.yaml:2: YAML: Tabs are not allowed as indentation$/],
  ['duplicate key', 'version: 1\nversion: 1\n', /^policy\.yaml:2: YAML: Map keys must be unique$/],
  ['two documents', 'version: 1\n---\nversion: 1\n', /^policy\.yaml:2: YAML: Source contains multiple documents/],
  ['unterminated string', 'version: 1\ndefault: "x\n', /^policy\.yaml:3: YAML: Missing closing "quote$/],
  ['unknown alias', 'version: 1\ndefault: passthrough\nrules: *x\n', /^policy\.yaml:3: YAML: unknown alias \*x$/],
  ['alias bomb', 'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n', /^policy\.yaml:1: YAML: Excessive alias count/],
  ['deep nesting', '['.repeat(20000), /^policy\.yaml:1: YAML: the document is nested too deeply$/],
  ['binary tag', P('  - action: deny\n    match: !!binary aGVsbG8=\n'), /^policy\.yaml:5: YAML: the tag !!binary is not used in policy files$/],
  ['custom tag', 'version: 1\ndefault: !foo deny\n', /^policy\.yaml:2: YAML: the tag !foo is not used/],
  ['complex key', '? [a]\n: 1\n', /^policy\.yaml:1: YAML: a key must be a plain name/],
  ['empty file', '', /^policy\.yaml:1: the policy is empty: expected version: 1/],
  ['comments only', '# nothing\n', /^policy\.yaml:1: the policy is empty/],
  ['a list', '- 1\n', /^policy\.yaml:1: expected a policy \(version: 1, default: \.\.\., rules: \[\.\.\.\]\) \(a mapping of key: value\), got a list$/],
  ['a scalar', 'hello\n', /^policy\.yaml:1: expected a policy .*got "hello"$/],
  ['missing version', 'default: deny\n', /^policy\.yaml:1: version: missing: the format version \(version: 1\)$/],
  ['wrong version', 'version: 2\ndefault: deny\n', /^policy\.yaml:1: version: unsupported version 2: this passfs reads version 1$/],
  ['missing default', 'version: 1\nrules: []\n', /^policy\.yaml:1: default: missing: the default action/],
  ['bad default', 'version: 1\ndefault: pass\n', /^policy\.yaml:2: default: expected an action: passthrough, mediated, deny; got "pass"$/],
  ['default list', 'version: 1\ndefault: [1]\n', /^policy\.yaml:2: default: expected the default action: .*got a list$/],
  ['default unknown key', 'version: 1\ndefault: {action: deny, x: 1}\n', /^policy\.yaml:2: default\.x: unknown key "x"/],
  ['default errno case', 'version: 1\ndefault: {action: deny, errno: eperm}\n', /^policy\.yaml:2: default\.errno: unknown errno name "eperm" \(did you mean "EPERM"\?\)$/],
  ['default audit on deny', 'version: 1\ndefault: {action: deny, audit: true}\n', /^policy\.yaml:2: default\.audit: audit applies to mediated files only \(this action is deny\)$/],
  ['unknown top key', 'version: 1\ndefault: deny\nrule: []\n', /^policy\.yaml:3: unknown key "rule" \(did you mean "rules"\?\) \(expected one of: version, default, rules\)$/],
  ['__proto__ key', 'version: 1\ndefault: deny\n__proto__: {x: 1}\n', /^policy\.yaml:3: unknown key "__proto__"/],
  ['rules not a list', 'version: 1\ndefault: deny\nrules: {}\n', /^policy\.yaml:3: rules: expected a list of rules/],
  ['rule not a mapping', P('  - 5\n'), /^policy\.yaml:4: rules\[0\]: expected a rule .*got 5$/],
  ['unknown rule key', P('  - name: a\n    matc: {}\n    action: deny\n'), /^policy\.yaml:5: rules\[0\]: unknown key "matc" \(did you mean "match"\?\)/],
  ['missing action', P('  - name: a\n    action: deny\n    errno: EIO\n  - name: b\n'), /^policy\.yaml:7: rules\[1\]\.action: missing: the action \(passthrough, mediated, deny\)$/],
  ['bad action', P('  - action: Deny\n'), /^policy\.yaml:4: rules\[0\]\.action: expected an action: passthrough, mediated, deny; got "Deny" \(did you mean "deny"\?\)$/],
  ['audit on deny', P('  - name: a\n    action: mediated\n    audit: true\n  - name: b\n    action: deny\n    audit: false\n'), /^policy\.yaml:9: rules\[1\]\.audit: audit applies to mediated files only \(this action is deny\)$/],
  ['audit not boolean', P('  - action: mediated\n    audit: yes\n'), /^policy\.yaml:5: rules\[0\]\.audit: expected true or false, got "yes"$/],
  ['errno on mediated', P('  - action: mediated\n    errno: EIO\n'), /^policy\.yaml:5: rules\[0\]\.errno: errno applies to deny only \(this action is mediated\)$/],
  ['unknown errno', P('  - action: deny\n    errno: EACCESS\n'), /^policy\.yaml:5: rules\[0\]\.errno: unknown errno name "EACCESS" \(did you mean "EACCES"\?\)/],
  ['errno number', P('  - action: deny\n    errno: 13\n'), /^policy\.yaml:5: rules\[0\]\.errno: give the errno by name, like EACCES \(13 is EACCES\)$/],
  ['empty name', P('  - action: deny\n    name: ""\n'), /^policy\.yaml:5: rules\[0\]\.name: a rule name cannot be empty$/],
  ['reserved name', P('  - action: deny\n    name: default\n'), /^policy\.yaml:5: rules\[0\]\.name: "default" is reserved/],
  ['duplicate name', P('  - name: a\n    action: deny\n  - name: a\n    action: deny\n'), /^policy\.yaml:6: rules\[1\]\.name: the name "a" is already used by rules\[0\]: rule names must be unique$/],
  ['match not a mapping', P('  - action: deny\n    match: [a]\n'), /^policy\.yaml:5: rules\[0\]\.match: expected the conditions .*got a list$/],
  ['match empty value', P('  - match:\n    action: deny\n'), /^policy\.yaml:4: rules\[0\]\.match: expected the conditions .*got null$/],
  ['unknown match key', P('  - action: deny\n    match: {pth: a}\n'), /^policy\.yaml:5: rules\[0\]\.match: unknown key "pth" \(did you mean "path"\?\) \(expected one of: path, type, uid, gid, comm, exe, mode, size, content\)$/],
  ['merge key', P('  - action: deny\n    match:\n      <<: {path: a}\n'), /^policy\.yaml:6: rules\[0\]\.match: unknown key "<<"/],
  ['empty list', P('  - action: deny\n    match: {path: []}\n'), /^policy\.yaml:5: rules\[0\]\.match\.path: an empty list matches nothing: remove the key, or give at least one path glob$/],
  ['null condition', P('  - action: deny\n    match: {uid: null}\n'), /^policy\.yaml:5: rules\[0\]\.match\.uid: expected a uid like 1000.*got nothing$/],
  ['absolute glob', P('  - action: deny\n    match:\n      path: [ok/*, "/etc/x"]\n'), /^policy\.yaml:6: rules\[0\]\.match\.path\[1\]: "\/etc\/x": globs are relative to the mount root, drop the leading "\/"$/],
  ['trailing slash', P('  - action: deny\n    match: {path: "a/"}\n'), /^policy\.yaml:5: rules\[0\]\.match\.path: "a\/" never matches: paths have no trailing "\/" \(use "a\/\*\*" for what is under it, or "a" for the directory itself\)$/],
  ['dot-dot part', P('  - action: deny\n    match: {path: [a/../b]}\n'), /rules\[0\]\.match\.path\[0\]: "a\/\.\.\/b" never matches: paths have no "\." or "\.\." parts$/],
  ['empty part', P('  - action: deny\n    match: {path: "a//b"}\n'), /never matches: paths have no empty parts/],
  ['empty glob', P('  - action: deny\n    match: {path: ""}\n'), /rules\[0\]\.match\.path: an empty glob matches nothing$/],
  ['glob not a string', P('  - action: deny\n    match: {path: 5}\n'), /rules\[0\]\.match\.path: expected a glob \(a string\), got 5$/],
  ['nested list', P('  - action: deny\n    match: {path: [[a]]}\n'), /rules\[0\]\.match\.path\[0\]: expected a glob \(a string\), got a list$/],
  ['unknown type', P('  - action: deny\n    match: {type: fil}\n'), /rules\[0\]\.match\.type: expected a file type: file, dir, symlink, other; got "fil" \(did you mean "file"\?\)$/],
  ['negative uid', P('  - action: deny\n    match: {uid: -1}\n'), /rules\[0\]\.match\.uid: -1 is not a whole number >= 0$/],
  ['fractional uid', P('  - action: deny\n    match: {uid: 1.5}\n'), /rules\[0\]\.match\.uid: 1\.5 is not a whole number >= 0$/],
  ['uid too large', P('  - action: deny\n    match: {gid: 4294967296}\n'), /rules\[0\]\.match\.gid: 4294967296 is above the largest id \(4294967295\)$/],
  ['empty uid range', P('  - action: deny\n    match:\n      uid: [1000, "2000-1000"]\n'), /^policy\.yaml:6: rules\[0\]\.match\.uid\[1\]: the range "2000-1000" is empty \(2000 > 1000\)$/],
  ['uid with a unit', P('  - action: deny\n    match: {uid: "1K"}\n'), /rules\[0\]\.match\.uid: expected a uid like .*"1K": ids take no unit$/],
  ['uid words', P('  - action: deny\n    match: {uid: alice}\n'), /rules\[0\]\.match\.uid: expected a uid like 1000, a range like "1000-1999" or ">= 1000", or \{min, max\}: "alice" is not a number$/],
  ['bad size', P('  - action: deny\n    match: {size: big}\n'), /rules\[0\]\.match\.size: expected a size range like ">= 1M", "< 4K", "1K-1M" or \{min, max\}: "big" is not a number with an optional unit$/],
  ['size unit', P('  - action: deny\n    match: {size: "5X"}\n'), /rules\[0\]\.match\.size: .*unknown unit "X" in "5X" \(use B, K, M, G, T or P; binary: 1K = 1024\)$/],
  ['size fraction', P('  - action: deny\n    match: {size: "1.3K"}\n'), /rules\[0\]\.match\.size: .*"1\.3K" is not a whole number of bytes$/],
  ['size matches nothing', P('  - action: deny\n    match: {size: "< 0"}\n'), /rules\[0\]\.match\.size: "< 0" matches nothing$/],
  ['size range key', P('  - action: deny\n    match:\n      size: {min: 1M, mx: 2}\n'), /^policy\.yaml:6: rules\[0\]\.match\.size: unknown key "mx" in a range \(expected min and\/or max\)$/],
  ['size range empty', P('  - action: deny\n    match: {size: {min: 2M, max: 1M}}\n'), /rules\[0\]\.match\.size: the range min 2097152 \.\. max 1048576 is empty$/],
  ['size too large', P('  - action: deny\n    match: {size: ">= 9000P"}\n'), /is above the largest size/],
  ['unknown mode', P('  - action: deny\n    match: {mode: [read, wrte]}\n'), /rules\[0\]\.match\.mode\[1\]: expected an access mode: read, write, read-write, read-only, write-only, create, truncate; got "wrte" \(did you mean "write"\?\)$/],
  ['long comm', P('  - action: deny\n    match: {comm: verylongprocessname}\n'), /rules\[0\]\.match\.comm: "verylongprocessname" never matches: the kernel keeps only the first 15 bytes of a process name \(use "verylongprocess"\)$/],
  ['relative exe', P('  - action: deny\n    match: {exe: bin/x}\n'), /rules\[0\]\.match\.exe: "bin\/x" never matches: executables are absolute paths/],
  ['content neither', P('  - action: deny\n    match: {content: {}}\n'), /rules\[0\]\.match\.content: expected \{magic: "7f454c46"\} \(a hex prefix\) or \{pattern: "regex", bytes: N\}$/],
  ['content both', P('  - action: deny\n    match: {content: {magic: "7f", pattern: x}}\n'), /rules\[0\]\.match\.content: give magic or pattern, not both$/],
  ['content unknown key', P('  - action: deny\n    match: {content: {patern: x}}\n'), /rules\[0\]\.match\.content\.patern: unknown key "patern" \(did you mean "pattern"\?\)/],
  ['content not a mapping', P('  - action: deny\n    match: {content: "7f45"}\n'), /rules\[0\]\.match\.content: expected \{magic: .*got "7f45"$/],
  ['magic odd', P('  - action: deny\n    match: {content: {magic: "7f4"}}\n'), /rules\[0\]\.match\.content\.magic: magic "7f4" has an odd number of hex digits$/],
  ['magic not hex', P('  - action: deny\n    match: {content: {magic: "ELF"}}\n'), /rules\[0\]\.match\.content\.magic: magic "ELF" is not hex/],
  ['magic a number', P('  - action: deny\n    match: {content: {magic: 12345678}}\n'), /rules\[0\]\.match\.content\.magic: expected the magic prefix as a hex string like "7f454c46", got 12345678 \(quote it\)$/],
  ['magic with bytes', P('  - action: deny\n    match: {content: {magic: "7f", bytes: 4}}\n'), /rules\[0\]\.match\.content\.bytes: bytes and flags go with pattern/],
  ['bad regex', P('  - action: deny\n    match:\n      content: [{magic: "00"}, {pattern: "(", bytes: 10}]\n'), /^policy\.yaml:6: rules\[0\]\.match\.content\[1\]\.pattern: pattern is not a valid regular expression: .*Unterminated group$/],
  ['regex flags', P('  - action: deny\n    match: {content: {pattern: x, flags: g}}\n'), /rules\[0\]\.match\.content\.flags: expected flags to be some of "i", "m", "s" \(each once\), got "g"$/],
  ['regex window', P('  - action: deny\n    match: {content: {pattern: x, bytes: 100000}}\n'), /rules\[0\]\.match\.content\.bytes: expected bytes to be a whole number from 1 to 65536, got 100000$/],
  ['JSON syntax works, errors too', '{"version": 1, "default": "deny",\n "rules": [{"action": "deny", "match": {"size": ">= 1Q"}}]}', /^policy\.yaml:2: rules\[0\]\.match\.size: .*unknown unit "Q"/],
];

for (const [what, text, want] of INVALID) {
  test(`refused with line and reason: ${what}`, () => {
    const e = refusal(text);
    assert.match(e.message, want);
    assert.not.match(e.message, /\n|Invalid input|\[object|undefined|NaN/);
    assert.ok(e.issues.length >= 1 && e.issues[0].reason.length > 0);
    assert.is(e.name, 'PolicyError');
  });
}

test('every problem is reported, sorted by line; the message is the first', () => {
  const e = refusal(P('  - action: deny\n    match: {size: big}\n  - action: dny\n  - action: deny\n    match: {pth: x}\n', 'pass'));
  assert.equal(e.lines(), [
    'policy.yaml:2: default: expected an action: passthrough, mediated, deny; got "pass"',
    'policy.yaml:5: rules[0].match.size: expected a size range like ">= 1M", "< 4K", "1K-1M" or {min, max}: "big" is not a number with an optional unit',
    'policy.yaml:6: rules[1].action: expected an action: passthrough, mediated, deny; got "dny" (did you mean "deny"?)',
    'policy.yaml:8: rules[2].match: unknown key "pth" (did you mean "path"?) (expected one of: path, type, uid, gid, comm, exe, mode, size, content)',
  ]);
  assert.is(e.message, e.lines()[0]);
  assert.equal([e.file, e.line], ['policy.yaml', 2]);
});

test('the error lines shown in docs/policy.md are the real ones', () => {
  const cases = [
    P('  - name: a\n    action: deny\n  - name: b\n    action: deny\n  - name: c\n    action: deny\n  - name: d\n    match:\n      size: big\n    action: deny\n'),
    P('  - name: a\n    matc: {}\n    action: deny\n'),
    P('  - name: a\n    match:\n      path: ["/etc/x", "a/"]\n    action: deny\n    errno: EACCESS\n'),
    P('  - name: a\n    match:\n      uid: [1000, "2000-1000"]\n    action: mediated\n'),
    P('  - name: a\n    action: mediated\n    audit: true\n  - name: b\n    action: deny\n    audit: false\n'),
    P('  - name: a\n    action: deny\n    errno: EIO\n  - name: b\n'),
    P('  - match: {mode: rw}\n    action: deny\n'),
    P('  - name: a\n    match:\n      content: {pattern: "(", bytes: 10}\n    action: deny\n'),
    P('  - name: a\n    match: { comm: verylongprocessname }\n    action: deny\n'),
    P('  - name: a\n    action: deny\n    errno: EPERM\n  - name: b\n    action: passthrough\n  - description: third\n    action: deny\n    name: a\n'),
    'version: 1\n\tdefault: deny\n',
    'version: 2\ndefault: deny\n',
  ];
  const produced = new Set(cases.flatMap((t) => refusal(t).lines()));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'passfs-policy-'));
  const cwd = process.cwd();
  process.chdir(tmp);
  try {
    loadPolicyFile('policy.yaml');
  } catch (e) {
    produced.add((e as Error).message);
  } finally {
    process.chdir(cwd);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const block = /## Errors[\s\S]*?```text\n([\s\S]*?)```/.exec(DOC)?.[1] ?? '';
  const documented = block.split('\n').filter(Boolean);
  assert.ok(documented.length >= 10);
  for (const line of documented) assert.ok(produced.has(line), `documented but not produced: ${line}\nproduced:\n${[...produced].join('\n')}`);
});

test('loadPolicyFile: reads a file; unreadable ones are PolicyErrors too', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'passfs-policy-'));
  try {
    const f = path.join(dir, 'p.yaml');
    fs.writeFileSync(f, 'version: 1\ndefault: mediated\n');
    const p = loadPolicyFile(f);
    assert.equal([p.file, p.default.action, p.text], [f, 'mediated', 'version: 1\ndefault: mediated\n']);
    assert.throws(() => loadPolicyFile(path.join(dir, 'none.yaml')), (e: unknown) => e instanceof PolicyError && e.message === `${dir}/none.yaml: cannot read the policy: ENOENT (no such file)`);
    assert.throws(() => loadPolicyFile(dir), (e: unknown) => e instanceof PolicyError && e.message === `${dir}: not a regular file`);
    fs.writeFileSync(f, 'version: 1\ndefault: pass\n');
    assert.throws(() => loadPolicyFile(f), (e: unknown) => e instanceof PolicyError && e.message === `${f}:2: default: expected an action: passthrough, mediated, deny; got "pass"`);
    fs.writeFileSync(f, `# ${'x'.repeat(1 << 20)}\n`);
    assert.throws(() => loadPolicyFile(f), (e: unknown) => e instanceof PolicyError && /larger than 1 MiB/.test(e.message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('loadPolicy never throws anything but PolicyError, even for wrong argument types', () => {
  for (const bad of [undefined, null, 5, {}, [], Buffer.from('version: 1')]) {
    assert.throws(() => loadPolicy(bad as unknown as string, 'x.yaml'), (e: unknown) => e instanceof PolicyError && /^x\.yaml: /.test(e.message));
  }
  assert.throws(() => loadPolicy('version: 2', undefined as unknown as string), (e: unknown) => e instanceof PolicyError && /^<policy>:1: /.test(e.message));
});

test('warnings: unreachable rules, globs that only match at the root', () => {
  const p = loadPolicy(P('  - match: {path: ["*.jpg", "a/*.png"]}\n    action: mediated\n  - name: all\n    action: passthrough\n  - action: deny\n'), 'w.yaml');
  assert.equal(p.warnings, [
    'w.yaml:4: rules[0].match.path[0]: "*.jpg" has no "/" and so matches at the mount root only; write "**/*.jpg" for any directory',
    'w.yaml:8: rules[2]: never reached: rules[1] "all" above matches every open',
  ]);
});

// ---------- helpers ----------

test('errno table: Linux x86_64 numbers (checked against the running kernel when on Linux)', () => {
  const want = { EACCES: 13, EPERM: 1, ENOENT: 2, EROFS: 30, EIO: 5, EBUSY: 16, ETXTBSY: 26, EAGAIN: 11, EWOULDBLOCK: 11, ENOTSUP: 95, EOPNOTSUPP: 95, EDQUOT: 122, ENOSPC: 28, EINVAL: 22 };
  for (const [k, v] of Object.entries(want)) assert.is(errnoNumber(k), v, k);
  assert.is(errnoNumber('toString'), undefined);
  assert.is(errnoNumber('eacces'), undefined);
  assert.is(errnoName(11), 'EAGAIN');
  assert.is(errnoName(999), 'errno 999');
  if (process.platform === 'linux' && process.arch === 'x64') {
    for (const [k, v] of Object.entries(os.constants.errno)) if (k in ERRNO) assert.is(ERRNO[k], v, k);
  }
});

test('processInfo: this process, a vanished one, nonsense', () => {
  const me = processInfo(process.pid);
  assert.is(me.comm, fs.readFileSync('/proc/self/comm', 'utf8').trim());
  assert.is(me.exe, fs.readlinkSync('/proc/self/exe'));
  assert.equal(processInfo(process.pid, { exe: true }), { exe: me.exe });
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const gone = Number(child.stdout);
  assert.ok(gone > 0);
  const info = processInfo(gone);
  if (!fs.existsSync(`/proc/${gone}`)) assert.equal(info, {});
  assert.equal(processInfo(0), {});
  assert.equal(processInfo(-5), {});
  assert.equal(processInfo(1.5), {});
});

test('accessFromFlags, parseAccessSpec, normalizePolicyPath, makeContext', () => {
  assert.equal(accessFromFlags(0), { read: true, write: false, create: false, truncate: false });
  assert.equal(accessFromFlags(0o1 | 0o1000), { read: false, write: true, create: false, truncate: true });
  assert.equal(accessFromFlags(0o2 | 0o100, true), { read: true, write: true, create: true, truncate: false });
  assert.equal(parseAccessSpec('rw'), { read: true, write: true, create: false, truncate: false });
  assert.equal(parseAccessSpec('wct'), { read: false, write: true, create: true, truncate: true });
  assert.equal(parseAccessSpec('read,create'), { read: true, write: false, create: true, truncate: false });
  assert.equal(parseAccessSpec('read-write+truncate'), { read: true, write: true, create: false, truncate: true });
  assert.throws(() => parseAccessSpec('rx'), /bad mode "rx"/);
  assert.is(normalizePolicyPath('/a//b/./c/'), 'a/b/c');
  assert.throws(() => normalizePolicyPath('a/../b'), /"\.\." is not allowed/);
  assert.throws(() => normalizePolicyPath('/'), /expected a path relative to the mount root/);
  const c = makeContext({ path: '/docs/a.txt', uid: '1000', mode: 'rw', size: '4K', comm: 'cat' });
  assert.equal({ ...c }, {
    path: 'docs/a.txt', type: 'file', uid: 1000, gid: 0, pid: 0, comm: 'cat', exe: undefined,
    access: { read: true, write: true, create: false, truncate: false }, size: 4096, content: undefined,
  });
  assert.throws(() => makeContext({ path: 'a', size: '1K-2K' }), /bad size/);
  assert.throws(() => makeContext({ path: 'a', uid: 'x' }), /bad uid "x"/);
  assert.throws(() => makeContext({ path: 'a', type: 'pipe' }), /bad type "pipe"/);
});

test('explain: every rule, why it fails or matches, and the decision', () => {
  const p = loadPolicy(
    P(
      [
        '  - name: secrets',
        '    match: { path: "secrets/**" }',
        '    action: deny',
        '  - name: media',
        '    match: { path: "**/*.jpg", uid: "1000-1999", mode: read }',
        '    action: mediated',
        '    audit: true',
        '  - name: tools',
        '    match: { comm: "rs*", exe: "/usr/bin/*" }',
        '    action: passthrough',
        '  - name: elf',
        '    match: { content: { magic: "7f454c46" } }',
        '    action: deny',
        '    errno: ETXTBSY',
        '',
      ].join('\n'),
    ),
    'e.yaml',
  );
  const c = makeContext({ path: 'a/b.jpg', uid: 1500, mode: 'r' });
  assert.equal(explain(p, c), [
    'open: path "a/b.jpg", type file, uid 1500, gid 0, pid 0, comm unknown, exe unknown, mode read, size 0, content unknown',
    'rules[0] "secrets" (e.yaml:4): no match: path "a/b.jpg" matches none of "secrets/**"',
    'rules[1] "media" (e.yaml:7): MATCH: mode read is read; uid 1500 is in 1000-1999; path "a/b.jpg" matches "**/*.jpg"',
    'rules[2] "tools" (e.yaml:11): not reached (would not match: comm unknown (needed for "rs*"); exe unknown (needed for "/usr/bin/*"))',
    'rules[3] "elf" (e.yaml:14): not reached (would not match: content unknown (needed for magic 7f454c46))',
    'decision: mediated, audited, by rules[1] "media"',
  ]);
  const lines = explain(p, makeContext({ path: 'bin/x', uid: 5, mode: 'w', comm: 'rsync', exe: '/bin/rsync', content: Uint8Array.of(0x7f, 0x45, 0x4c, 0x46) }));
  assert.is(lines[2], 'rules[1] "media" (e.yaml:7): no match: mode write is none of read; uid 5 is not in 1000-1999; path "bin/x" matches none of "**/*.jpg"');
  assert.is(lines[3], 'rules[2] "tools" (e.yaml:11): no match: exe "/bin/rsync" matches none of "/usr/bin/*"');
  assert.is(lines[4], 'rules[3] "elf" (e.yaml:14): MATCH: content (4 bytes) has magic 7f454c46');
  assert.is(lines[5], 'decision: deny ETXTBSY (26), by rules[3] "elf"');
  assert.is(explain(p, makeContext({ path: 'x' })).at(-1), 'decision: passthrough, by the default (no rule matched)');
});


test('forEveryOpener: passthrough becomes mediated where another opener could be audited', () => {
  const p = loadPolicy(`version: 1
default: passthrough
rules:
  - name: fast
    match: { path: "logs/fast/**" }
    action: passthrough
  - name: logs
    match: { path: "logs/**", mode: [write] }
    action: mediated
    audit: true
  - name: users
    match: { path: "shared/**", uid: 1000 }
    action: mediated
`, 'p.yaml');
  const each = (path: string, mode = 'r') => {
    const c = makeContext({ path, mode });
    return p.forEveryOpener(p.decide(c), c);
  };
  const r = each('logs/app.log');
  assert.is(r.action, 'mediated');
  assert.is(r.audit, false, 'the reader itself is not audited');
  assert.is(r.rule, 'default');
  assert.match(r.reason, 'could be audited');
  const w = each('logs/app.log', 'w');
  assert.is(w.action, 'mediated');
  assert.is(w.audit, true, 'the writer keeps its rule');
  assert.is(each('logs/fast/x').action, 'passthrough', 'a rule on the file alone before it decides for every opener');
  assert.is(each('shared/doc').action, 'passthrough', 'an unaudited mediated rule joins passthrough instead');
  assert.is(each('other').action, 'passthrough');
});
test.run();
