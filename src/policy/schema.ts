// The policy file's schema, written with zod, which also parses each value
// into its compiled form (ranges, globs, regexes, bitmasks).
//
// Why zod: it is TypeScript-first and well kept (no code generation, no
// separate .d.ts to keep in step: the schema is the type), strict objects
// report unknown keys, every issue carries the exact path into the document
// (rules.3.match.size) which load.ts maps back to a YAML node and its line, and
// its transforms let one place both validate a value and turn it into what the
// matcher uses, with our own wording for every error. (ajv with JSON Schema
// was the other candidate; its generic messages and the many alternatives
// a oneOf reports would have needed the same amount of rewording.)
//
// Every leaf is `z.unknown()` run through a small parser of ours, so each
// message says what was expected with an example, never "invalid input".
import { z } from 'zod';
import { show } from './errors.js';
import { ERRNO, errnoName, errnoNumber } from './errno.js';
import { checkGlob, compileGlobs, GlobKind, GlobList } from './glob.js';
import { expected, parseRange, RangeKind } from './ranges.js';
import { didYouMean } from './suggest.js';
import { Action, ACTIONS, FILE_TYPES, FileType, MODE_KEYWORDS, ModeKeyword } from './types.js';

export const TOP_KEYS = ['version', 'default', 'rules'] as const;
export const RULE_KEYS = ['name', 'description', 'match', 'action', 'audit', 'errno'] as const;
export const MATCH_KEYS = ['path', 'type', 'uid', 'gid', 'comm', 'exe', 'mode', 'size', 'content'] as const;
export const DEFAULT_KEYS = ['action', 'audit', 'errno'] as const;
export const CONTENT_KEYS = ['magic', 'pattern', 'bytes', 'flags'] as const;

/** Bytes a content pattern looks at when `bytes` is not given, and the most it may ask. */
export const PATTERN_BYTES_DEFAULT = 512;
export const CONTENT_BYTES_MAX = 65536;

// Bits of the file-type and access-mode masks.
export const TYPE_BIT: Record<FileType, number> = { file: 1, dir: 2, symlink: 4, other: 8 };
export const MODE_BIT: Record<ModeKeyword, number> = {
  read: 1, write: 2, 'read-write': 4, 'read-only': 8, 'write-only': 16, create: 32, truncate: 64,
};

export type ContentTest =
  | { kind: 'magic'; magic: Uint8Array; hex: string }
  | { kind: 'pattern'; re: RegExp; bytes: number; source: string };

export interface MatchSpec {
  path?: GlobList;
  type?: { types: FileType[]; mask: number };
  uid?: number[];
  gid?: number[];
  comm?: GlobList;
  exe?: GlobList;
  mode?: { modes: ModeKeyword[]; mask: number };
  size?: number[];
  content?: ContentTest[];
}

export interface ActionSpec {
  action: Action;
  audit: boolean;
  errno: number;
  errnoName: string;
}

export interface RuleSpec extends ActionSpec {
  name?: string;
  description?: string;
  match: MatchSpec;
}

export interface PolicySpec {
  version: 1;
  default: ActionSpec;
  rules: RuleSpec[];
}

type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string; at?: PropertyKey[] };
const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (reason: string, at?: PropertyKey[]): Parsed<never> => ({ ok: false, reason, at });

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** A leaf: `parse` gets the raw value (undefined when the key is absent). */
function leaf<T>(parse: (v: unknown) => Parsed<T>) {
  return z.unknown().optional().transform((v, ctx) => {
    let r: Parsed<T>;
    try {
      r = parse(v);
    } catch (e) {
      r = bad(`cannot be read: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (r.ok) return r.value;
    ctx.addIssue({ code: 'custom', message: r.reason, path: r.at ?? [] });
    return z.NEVER;
  });
}

/** An optional key whose value is one item or a non-empty list of items (OR). */
function oneOrMany<T>(what: string, item: (v: unknown) => Parsed<T>) {
  return (v: unknown): Parsed<T[] | undefined> => {
    if (v === undefined) return ok(undefined);
    if (v === null) return bad(`expected ${what} or a list of them, got nothing (remove the key to match anything)`);
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0) return bad(`an empty list matches nothing: remove the key, or give at least one ${what}`);
    const out: T[] = [];
    for (let i = 0; i < list.length; i++) {
      const r = item(list[i]);
      if (!r.ok) return bad(r.reason, Array.isArray(v) ? [i, ...(r.at ?? [])] : r.at);
      out.push(r.value);
    }
    return ok(out);
  };
}

function keyword<T extends string>(what: string, options: readonly T[]) {
  return (v: unknown): Parsed<T> => {
    if (typeof v === 'string' && (options as readonly string[]).includes(v)) return ok(v as T);
    const hint = typeof v === 'string' ? didYouMean(v, options) : '';
    return bad(`expected ${what}: ${options.join(', ')}; got ${show(v)}${hint}`);
  };
}

const globItem = (kind: GlobKind) => (v: unknown): Parsed<string> => {
  const why = checkGlob(v, kind);
  return why === undefined ? ok(v as string) : bad(why);
};

const globKey = (kind: GlobKind, what: string) => {
  const many = oneOrMany(what, globItem(kind));
  return (v: unknown): Parsed<GlobList | undefined> => {
    const r = many(v);
    if (!r.ok) return r;
    return ok(r.value && compileGlobs(r.value, kind));
  };
};

const rangeItem = (kind: RangeKind, what: string) => (v: unknown): Parsed<[number, number]> => {
  if (Array.isArray(v)) return bad(`${expected(kind, what)}; got a list inside the list`);
  const r = parseRange(v, kind);
  return r.ok ? ok([r.min, r.max]) : bad(r.reason);
};

const rangeKey = (kind: RangeKind, what: string) => {
  const many = oneOrMany(kind === 'size' ? 'size range' : `${what} or range`, rangeItem(kind, what));
  return (v: unknown): Parsed<number[] | undefined> => {
    if (v === null) return bad(`${expected(kind, what)}; got nothing`);
    const r = many(v);
    return r.ok ? ok(r.value && r.value.flat()) : r;
  };
};

const typeKey = (v: unknown): Parsed<MatchSpec['type']> => {
  const r = oneOrMany('file type', keyword('a file type', FILE_TYPES))(v);
  if (!r.ok || !r.value) return r as Parsed<undefined>;
  return ok({ types: r.value, mask: r.value.reduce((m, t) => m | TYPE_BIT[t], 0) });
};

const modeKey = (v: unknown): Parsed<MatchSpec['mode']> => {
  const r = oneOrMany('access mode', keyword('an access mode', MODE_KEYWORDS))(v);
  if (!r.ok || !r.value) return r as Parsed<undefined>;
  return ok({ modes: r.value, mask: r.value.reduce((m, t) => m | MODE_BIT[t], 0) });
};

const CONTENT_EXPECTED = 'expected {magic: "7f454c46"} (a hex prefix) or {pattern: "regex", bytes: N}';

function contentItem(v: unknown): Parsed<ContentTest> {
  if (!isMapping(v)) return bad(`${CONTENT_EXPECTED}, got ${show(v)}`);
  for (const k of Object.keys(v)) {
    if (!(CONTENT_KEYS as readonly string[]).includes(k)) return bad(`unknown key ${show(k)}${didYouMean(k, CONTENT_KEYS)}; ${CONTENT_EXPECTED}`, [k]);
  }
  const has = (k: string) => v[k] !== undefined;
  if (has('magic') === has('pattern')) return bad(has('magic') ? 'give magic or pattern, not both' : CONTENT_EXPECTED);
  if (has('magic')) {
    if (has('bytes') || has('flags')) return bad('bytes and flags go with pattern; a magic prefix is compared as is', [has('bytes') ? 'bytes' : 'flags']);
    const m = v.magic;
    if (typeof m !== 'string') return bad(`expected the magic prefix as a hex string like "7f454c46", got ${show(m)}${typeof m === 'number' ? ' (quote it)' : ''}`, ['magic']);
    const hex = m.replace(/\s+/g, '').replace(/^0x/i, '');
    if (hex === '' || !/^[0-9a-fA-F]+$/.test(hex)) return bad(`magic ${show(m)} is not hex (expected pairs of 0-9a-f, like "7f454c46")`, ['magic']);
    if (hex.length % 2) return bad(`magic ${show(m)} has an odd number of hex digits`, ['magic']);
    if (hex.length / 2 > CONTENT_BYTES_MAX) return bad(`magic is longer than ${CONTENT_BYTES_MAX} bytes`, ['magic']);
    return ok({ kind: 'magic', magic: Uint8Array.from(Buffer.from(hex, 'hex')), hex: hex.toLowerCase() });
  }
  const p = v.pattern;
  if (typeof p !== 'string' || p === '') return bad(`expected pattern to be a regular expression (a non-empty string), got ${show(p)}`, ['pattern']);
  let bytes = PATTERN_BYTES_DEFAULT;
  if (has('bytes')) {
    const b = v.bytes;
    if (typeof b !== 'number' || !Number.isInteger(b) || b < 1 || b > CONTENT_BYTES_MAX) return bad(`expected bytes to be a whole number from 1 to ${CONTENT_BYTES_MAX}, got ${show(b)}`, ['bytes']);
    bytes = b;
  }
  let flags = '';
  if (has('flags')) {
    const f = v.flags;
    if (typeof f !== 'string' || !/^[ims]*$/.test(f) || new Set(f).size !== f.length) return bad(`expected flags to be some of "i", "m", "s" (each once), got ${show(f)}`, ['flags']);
    flags = f;
  }
  try {
    return ok({ kind: 'pattern', re: new RegExp(p, flags), bytes, source: p });
  } catch (e) {
    return bad(`pattern is not a valid regular expression: ${e instanceof Error ? e.message : String(e)}`, ['pattern']);
  }
}

const nameKey = (v: unknown): Parsed<string | undefined> => {
  if (v === undefined) return ok(undefined);
  if (typeof v !== 'string' && typeof v !== 'number') return bad(`expected the rule's name (a string), got ${show(v)}`);
  const s = String(v);
  if (s.trim() === '') return bad('a rule name cannot be empty');
  if (s.length > 200) return bad('a rule name is at most 200 characters');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(s)) return bad('a rule name cannot contain control characters');
  if (s === 'default') return bad('"default" is reserved for the default decision: choose another name');
  return ok(s);
};

const descriptionKey = (v: unknown): Parsed<string | undefined> =>
  v === undefined || typeof v === 'string' ? ok(v as string | undefined) : bad(`expected a description (a string), got ${show(v)}`);

const actionKey = (v: unknown): Parsed<Action> =>
  v === undefined ? bad(`missing: the action (${ACTIONS.join(', ')})`) : keyword('an action', ACTIONS)(v);

const auditKey = (v: unknown): Parsed<boolean | undefined> =>
  v === undefined || typeof v === 'boolean' ? ok(v as boolean | undefined) : bad(`expected true or false, got ${show(v)}`);

const errnoKey = (v: unknown): Parsed<string | undefined> => {
  if (v === undefined) return ok(undefined);
  if (typeof v === 'number') return bad(`give the errno by name, like EACCES${Number.isInteger(v) && errnoName(v) !== `errno ${v}` ? ` (${v} is ${errnoName(v)})` : ''}`);
  if (typeof v !== 'string') return bad(`expected an errno name like EACCES, got ${show(v)}`);
  if (errnoNumber(v) !== undefined) return ok(v);
  const up = v.toUpperCase();
  if (errnoNumber(up) !== undefined) return bad(`unknown errno name ${show(v)} (did you mean "${up}"?)`);
  return bad(`unknown errno name ${show(v)}${didYouMean(v, Object.keys(ERRNO))} (expected a Linux errno name like EACCES, EPERM, EROFS)`);
};

const versionKey = (v: unknown): Parsed<1> => {
  if (v === undefined) return bad('missing: the format version (version: 1)');
  if (v === 1) return ok(1);
  return bad(`unsupported version ${show(v)}: this passfs reads version 1`);
};

const mappingError = (what: string) => (iss: { code: string; input?: unknown }) =>
  iss.code === 'invalid_type'
    ? iss.input === undefined ? `missing: ${what}` : `expected ${what} (a mapping of key: value), got ${show(iss.input)}`
    : undefined;

/** Checks audit and errno against the action; fills in the defaults. */
function finishAction(
  a: { action: Action; audit?: boolean; errno?: string },
  ctx: z.RefinementCtx,
): ActionSpec {
  if (a.audit !== undefined && a.action !== 'mediated') {
    ctx.addIssue({ code: 'custom', message: `audit applies to mediated files only (this action is ${a.action})`, path: ['audit'] });
  }
  if (a.errno !== undefined && a.action !== 'deny') {
    ctx.addIssue({ code: 'custom', message: `errno applies to deny only (this action is ${a.action})`, path: ['errno'] });
  }
  const name = a.action === 'deny' ? a.errno ?? 'EACCES' : '';
  return { action: a.action, audit: a.audit === true, errno: name ? errnoNumber(name) ?? 13 : 0, errnoName: name };
}

const MatchSchema = z.strictObject(
  {
    path: leaf(globKey('path', 'path glob')),
    type: leaf(typeKey),
    uid: leaf(rangeKey('id', 'uid')),
    gid: leaf(rangeKey('id', 'gid')),
    comm: leaf(globKey('comm', 'process name glob')),
    exe: leaf(globKey('exe', 'executable path glob')),
    mode: leaf(modeKey),
    size: leaf(rangeKey('size', 'size')),
    content: leaf(oneOrMany('content test', contentItem)),
  },
  { error: mappingError('the conditions (path, type, uid, gid, comm, exe, mode, size, content)') },
);

const RuleSchema = z
  .strictObject(
    {
      name: leaf(nameKey),
      description: leaf(descriptionKey),
      match: MatchSchema.optional(),
      action: leaf(actionKey),
      audit: leaf(auditKey),
      errno: leaf(errnoKey),
    },
    { error: mappingError('a rule (name, match, action...)') },
  )
  .transform((r, ctx): RuleSpec => {
    const m: Partial<Record<(typeof MATCH_KEYS)[number], unknown>> = r.match ?? {};
    const match: MatchSpec = {};
    for (const k of MATCH_KEYS) if (m[k] !== undefined) (match as Record<string, unknown>)[k] = m[k];
    return { name: r.name, description: r.description, match, ...finishAction(r, ctx) };
  });

const DEFAULT_EXPECTED = 'expected the default action: passthrough, mediated, deny, or {action, audit, errno}';

function defaultKey(v: unknown): Parsed<{ action: Action; audit?: boolean; errno?: string }> {
  if (v === undefined) return bad('missing: the default action (default: passthrough, mediated or deny)');
  if (typeof v === 'string') {
    const r = keyword('an action', ACTIONS)(v);
    return r.ok ? ok({ action: r.value }) : r;
  }
  if (!isMapping(v)) return bad(`${DEFAULT_EXPECTED}, got ${show(v)}`);
  for (const k of Object.keys(v)) {
    if (!(DEFAULT_KEYS as readonly string[]).includes(k)) return bad(`unknown key ${show(k)}${didYouMean(k, DEFAULT_KEYS)} (expected one of: ${DEFAULT_KEYS.join(', ')})`, [k]);
  }
  const a = actionKey(v.action);
  if (!a.ok) return bad(a.reason, ['action']);
  const au = auditKey(v.audit);
  if (!au.ok) return bad(au.reason, ['audit']);
  const e = errnoKey(v.errno);
  if (!e.ok) return bad(e.reason, ['errno']);
  return ok({ action: a.value, audit: au.value, errno: e.value });
}

export const PolicySchema = z.strictObject(
  {
    version: leaf(versionKey),
    default: leaf(defaultKey).transform((d, ctx) => finishAction(d, ctx)),
    rules: leaf((v): Parsed<unknown[]> => {
      if (v === undefined || v === null) return ok([]);
      if (!Array.isArray(v)) return bad(`expected a list of rules ("- name: ..." lines), got ${show(v)}`);
      return ok(v);
    }).pipe(z.array(RuleSchema)),
  },
  { error: mappingError('a policy (version: 1, default: ..., rules: [...])') },
);

/** Known keys at a place in the document, for unknown-key messages. */
export function keysAt(path: readonly PropertyKey[]): readonly string[] {
  if (path.length === 0) return TOP_KEYS;
  if (path[0] === 'default') return DEFAULT_KEYS;
  if (path[0] === 'rules' && path.length === 2) return RULE_KEYS;
  if (path[0] === 'rules' && path.length === 3 && path[2] === 'match') return MATCH_KEYS;
  return [];
}
