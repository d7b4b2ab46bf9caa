// Loading a policy: YAML text -> document with positions (yaml's
// parseDocument + LineCounter) -> plain data -> schema (zod) -> Policy.
// Every problem becomes a PolicyIssue with the line of the YAML node it is
// about; loadPolicy throws nothing but PolicyError, whatever the input.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { Document, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, Node, parseDocument, visit } from 'yaml';
import type { ZodIssue } from 'zod';
import { oneLine, PolicyError, PolicyIssue } from './errors.js';
import { rootOnlyWildcard } from './glob.js';
import { Policy } from './match.js';
import { keysAt, PolicySchema } from './schema.js';
import { didYouMean } from './suggest.js';

/** The largest policy file accepted. */
export const POLICY_MAX_BYTES = 1 << 20;
/** Aliases expanded at most this many times (stops "billion laughs" documents). */
const MAX_ALIAS_COUNT = 100;

type Path = readonly PropertyKey[];

const PLAIN_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`));

/** `rules[3].match.size` */
export function formatPath(path: Path): string {
  let s = '';
  for (const k of path) {
    if (typeof k === 'number') s += `[${k}]`;
    else {
      const key = String(k);
      if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) s += s ? `.${key}` : key;
      else s += `[${JSON.stringify(key.length > 40 ? `${key.slice(0, 37)}...` : key)}]`;
    }
  }
  return s;
}

interface Located {
  /** Offset of the node the path leads to (or of its deepest existing ancestor). */
  offset: number;
  /** Offset of the key when the path's last step is a mapping key that exists. */
  keyOffset?: number;
}

function deref(doc: Document, n: unknown, depth = 0): unknown {
  if (isAlias(n) && depth < 16) {
    try {
      return deref(doc, n.resolve(doc), depth + 1);
    } catch {
      return n;
    }
  }
  return n;
}

function startOf(n: unknown): number | undefined {
  const r = (n as Node | null)?.range;
  return Array.isArray(r) && typeof r[0] === 'number' ? r[0] : undefined;
}

/** Follows a data path through the YAML nodes, as far as it goes. */
function locate(doc: Document, path: Path): Located {
  let node: unknown = doc.contents;
  let found: Located = { offset: startOf(node) ?? 0 };
  for (const k of path) {
    node = deref(doc, node);
    let next: unknown;
    let keyNode: unknown;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(k));
      if (!pair) break;
      keyNode = pair.key;
      next = pair.value;
    } else if (isSeq(node) && typeof k === 'number') {
      next = node.items[k];
      if (next === undefined) break;
    } else break;
    const ko = startOf(keyNode);
    const vo = startOf(next);
    // A key with no value (`match:`) has no value node worth pointing at.
    const nullValue = isScalar(next) && next.value === null && ko !== undefined;
    found = { offset: vo !== undefined && !nullValue ? vo : ko ?? found.offset, keyOffset: ko };
    node = next;
  }
  return found;
}

/** Issues kept for one load: enough to fix a file in one go, bounded for absurd input. */
const MAX_ISSUES = 50;

class Collector {
  readonly issues: PolicyIssue[] = [];
  private readonly seen = new Set<string>();
  constructor(readonly file: string, readonly lc: LineCounter) {}
  at(offset: number, where: string, reason: string): void {
    if (this.issues.length >= MAX_ISSUES) return;
    let line = 1;
    let column = 1;
    try {
      const p = this.lc.linePos(Math.max(0, offset));
      line = p.line;
      column = p.col;
    } catch {
      /* keep line 1 */
    }
    const text = oneLine(reason) || 'invalid';
    const key = `${line}\0${where}\0${text}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.issues.push({ file: this.file, line, column, where, reason: text });
  }
  fail(): never {
    const sorted = this.issues.map((i, n) => ({ i, n })).sort((a, b) => a.i.line - b.i.line || a.n - b.n).map((x) => x.i);
    throw new PolicyError(sorted);
  }
}

/** The first line of a yaml error message, without its own position. */
function yamlReason(message: string): string {
  if (/call stack/i.test(message)) return 'YAML: the document is nested too deeply';
  const first = message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
  return `YAML: ${first}`;
}

/**
 * Parses and validates a policy. `fileName` is only used in messages.
 * Throws PolicyError (message "FILE:LINE: WHERE: REASON") and nothing else.
 */
export function loadPolicy(text: string, fileName: string): Policy {
  const file = typeof fileName === 'string' && fileName !== '' ? oneLine(fileName) || '<policy>' : '<policy>';
  try {
    return load(text, file);
  } catch (e) {
    if (e instanceof PolicyError) throw e;
    // A bug of ours or a limit of a library (say a stack overflow on absurd
    // nesting): still a clear, one-line refusal.
    const why = e instanceof RangeError && /call stack/i.test(e.message) ? 'the document is nested too deeply' : e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    throw new PolicyError([{ file, line: 0, column: 0, where: '', reason: `cannot load the policy: ${oneLine(why).slice(0, 200)}` }]);
  }
}

function load(text: string, file: string): Policy {
  if (typeof text !== 'string') {
    throw new PolicyError([{ file, line: 0, column: 0, where: '', reason: 'expected the policy as text' }]);
  }
  if (text.length > POLICY_MAX_BYTES) {
    throw new PolicyError([{ file, line: 0, column: 0, where: '', reason: `the policy is larger than ${POLICY_MAX_BYTES >> 20} MiB` }]);
  }
  const lc = new LineCounter();
  const out: Collector = new Collector(file, lc);
  const doc = parseDocument(text, {
    lineCounter: lc,
    prettyErrors: false,
    uniqueKeys: true,
    strict: true,
    version: '1.2',
    schema: 'core',
    merge: false,
    keepSourceTokens: false,
    logLevel: 'error', // no process warnings from a library inside the daemon
  });
  for (const e of doc.errors) out.at(e.pos?.[0] ?? 0, '', yamlReason(e.message));
  if (out.issues.length) out.fail();

  // Aliases: refuse unknown ones with their line (toJS would only say
  // "unresolved"). Tags beyond plain data (!!binary, !custom) and keys that
  // are not plain scalars mean nothing in a policy: refuse them here too.
  visit(doc, {
    Pair(_key, pair) {
      if (pair.key !== null && !isScalar(pair.key) && !isAlias(pair.key)) out.at(startOf(pair.key) ?? 0, '', 'YAML: a key must be a plain name, not a list or mapping');
    },
    Node(_key, node) {
      const tag = (node as { tag?: string }).tag;
      if (tag !== undefined && !PLAIN_TAGS.has(tag)) out.at(startOf(node) ?? 0, '', `YAML: the tag ${tag.replace(/^tag:yaml.org,2002:/, '!!')} is not used in policy files`);
    },
    Alias(_key, node) {
      let target: unknown;
      try {
        target = node.resolve(doc);
      } catch {
        target = undefined;
      }
      if (target === undefined) out.at(startOf(node) ?? 0, '', `YAML: unknown alias *${node.source}`);
    },
  });
  if (out.issues.length) out.fail();

  if (doc.contents === null) {
    out.at(0, '', 'the policy is empty: expected version: 1, default: ..., rules: [...]');
    out.fail();
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    out.at(0, '', yamlReason(e instanceof Error ? e.message : String(e)));
    out.fail();
  }

  const parsed = PolicySchema.safeParse(data);
  if (!parsed.success) {
    for (const iss of parsed.error.issues) addZodIssue(out, doc, iss);
    if (!out.issues.length) out.at(0, '', 'invalid policy');
    out.fail();
  }
  const spec = parsed.data;

  // Names: given ones must be unique; the others are called after their place.
  const ruleLines: number[] = [];
  const names: string[] = [];
  const seen = new Map<string, number>();
  const lineOf = (path: Path) => {
    try {
      return lc.linePos(locate(doc, path).offset).line;
    } catch {
      return 1;
    }
  };
  spec.rules.forEach((r, i) => {
    ruleLines.push(lineOf(['rules', i]));
    const name = r.name ?? `rules[${i}]`;
    const prev = seen.get(name);
    if (prev !== undefined) {
      out.at(locate(doc, ['rules', i, 'name']).offset, formatPath(['rules', i, 'name']), `the name ${JSON.stringify(name)} is already used by rules[${prev}]: rule names must be unique`);
    } else seen.set(name, i);
    names.push(name);
  });
  if (out.issues.length) out.fail();

  const found: { line: number; text: string }[] = [];
  const warn = (path: Path, msg: string) => {
    const line = lineOf(path);
    found.push({ line, text: `${file}:${line}: ${formatPath(path)}: ${msg}` });
  };
  const always = spec.rules.findIndex((r) => Object.keys(r.match).length === 0);
  if (always >= 0) {
    for (let j = always + 1; j < spec.rules.length; j++) {
      warn(['rules', j], `never reached: rules[${always}] ${JSON.stringify(names[always])} above matches every open`);
    }
  }
  spec.rules.forEach((r, i) => {
    r.match.path?.globs.forEach((g, k) => {
      if (rootOnlyWildcard(g)) {
        const p = r.match.path!.globs.length > 1 || Array.isArray(getRaw(data, ['rules', i, 'match', 'path'])) ? ['rules', i, 'match', 'path', k] : ['rules', i, 'match', 'path'];
        warn(p, `${JSON.stringify(g)} has no "/" and so matches at the mount root only; write "**/${g.replace(/^!+/, '')}" for any directory`);
      }
    });
  });

  const warnings = found.map((w, n) => ({ ...w, n })).sort((a, b) => a.line - b.line || a.n - b.n).map((w) => w.text);
  const digest = createHash('sha256').update(text).digest('hex');
  return new Policy(spec, { file, text, digest, ruleLines, defaultLine: lineOf(['default']), names, warnings });
}

function getRaw(data: unknown, path: Path): unknown {
  let v = data;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

function addZodIssue(out: Collector, doc: Document, iss: ZodIssue): void {
  const path = iss.path as PropertyKey[];
  if (iss.code === 'unrecognized_keys') {
    const allowed = keysAt(path);
    for (const k of iss.keys) {
      const loc = locate(doc, [...path, k]);
      const hint = didYouMean(k, allowed);
      out.at(loc.keyOffset ?? loc.offset, formatPath(path), `unknown key ${JSON.stringify(k)}${hint}${allowed.length ? ` (expected one of: ${allowed.join(', ')})` : ''}`);
    }
    return;
  }
  const loc = locate(doc, path);
  out.at(loc.offset, formatPath(path), iss.message);
}

/**
 * Reads and loads a policy file. Throws PolicyError for an unreadable file
 * ("FILE: cannot read the policy: ENOENT ...") as for an invalid one.
 */
export function loadPolicyFile(path: string): Policy {
  let text: string;
  try {
    const st = fs.statSync(path);
    if (!st.isFile()) throw new PolicyError([{ file: String(path), line: 0, column: 0, where: '', reason: 'not a regular file' }]);
    if (st.size > POLICY_MAX_BYTES) {
      throw new PolicyError([{ file: String(path), line: 0, column: 0, where: '', reason: `the policy is larger than ${POLICY_MAX_BYTES >> 20} MiB` }]);
    }
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof PolicyError) throw e;
    const err = e as NodeJS.ErrnoException;
    const why = err?.code ? `${err.code}${err.code === 'ENOENT' ? ' (no such file)' : err.code === 'EACCES' ? ' (permission denied)' : ''}` : String(err?.message ?? e);
    throw new PolicyError([{ file: String(path), line: 0, column: 0, where: '', reason: `cannot read the policy: ${why}` }]);
  }
  return loadPolicy(text, String(path));
}
