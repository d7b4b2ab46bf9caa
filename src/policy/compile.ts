// The rule list compiled into one JavaScript function, built once per load.
//
// Why generate code: decide() runs at every open and create, and in the daemon
// it runs cold (the worker was asleep in the kernel; on this kind of VM every
// context switch leaves caches and TLB cold). What it costs is then mostly the
// memory it touches, and an interpreter touches a lot: the rule array, each
// rule's match object, each glob object and its closure, each range array.
// One generated function holds the masks, ranges and glob strings as
// constants in its own code (what that saves is measured in bench/README.md,
// "Policy cost").
//
// What goes into the source: integer literals (masks, validated ranges),
// rule indices, and glob fragments through JSON.stringify (string literals,
// never code). What is not inlined (globs that need a regex, content tests)
// is called through the `env` array.
//
// The order of checks is the interpreter's it replaced, and is part of the
// contract: the cheap keys first, the path, then the lazy sources (size,
// process, content) only when a rule gets that far, each read at most once.
//
// Path globs read the path string, or, when every one of them has a view
// form (glob.ts), only the path's last part, first part and depth: the
// daemon gives those from its records without building the string.
import type { CompiledGlob, GlobList } from './glob.js';
import { TYPE_BIT } from './schema.js';
import type { Decision, OpenContext, PolicyNeeds } from './types.js';
import { viewOfPath } from './context.js';
import { accessBits, callContent, callProcess, callSize, contentMatches, type CompiledRule } from './rule.js';
import { inRanges } from './ranges.js';

/** Above this many ranges a key is tested by a loop instead of inline comparisons. */
const INLINE_RANGES = 8;

export type DecideFn = (ctx: OpenContext) => Decision;

/** How much of the path the reachable rules read (PolicyNeeds.path). */
export function pathNeed(rules: readonly CompiledRule[], reachable: number): PolicyNeeds['path'] {
  let need: PolicyNeeds['path'] = 'none';
  for (let i = 0; i < reachable; i++) {
    for (const g of rules[i].match.path?.each ?? []) {
      if (!g.view) return 'full';
      need = 'view';
    }
  }
  return need;
}

export function compileDecide(rules: readonly CompiledRule[], reachable: number, dflt: Decision, contentBytes: number, path: PolicyNeeds['path']): DecideFn {
  const env: unknown[] = [];
  /** A value the generated code reads from `env`. */
  const ref = (v: unknown): string => `env[${env.push(v) - 1}]`;
  const ranges = (r: readonly number[], x: string): string => {
    if (r.length > INLINE_RANGES * 2) return `inRanges(${ref(r)}, ${x})`;
    const parts: string[] = [];
    for (let i = 0; i < r.length; i += 2) parts.push(r[i] === r[i + 1] ? `${x} === ${r[i]}` : `(${x} >= ${r[i]} && ${x} <= ${r[i + 1]})`);
    return parts.length ? parts.join(' || ') : 'false';
  };
  const glob = (g: CompiledGlob, x: string): string =>
    x === 'path' && path === 'view' ? g.view!('vName', 'vTop', 'vDepth') : g.expr ? g.expr(x) : `${ref(g.test)}(${x})`;
  const globs = (list: GlobList, x: string): string => list.each.map((g) => glob(g, x)).join(' || ');

  const out: string[] = [];
  for (let i = 0; i < reachable; i++) {
    const r = rules[i];
    const m = r.match;
    const no = `break r${i};`;
    out.push(`r${i}: {`);
    if (r.typeMask !== 0) out.push(`if ((${r.typeMask} & (TYPE_BIT[ctx.type] | 0)) === 0) ${no}`);
    if (r.modeMask !== 0) out.push(`if (modeBits < 0) modeBits = accessBits(ctx.access);`, `if ((${r.modeMask} & modeBits) === 0) ${no}`);
    if (m.uid !== undefined) out.push(`if (!(${ranges(m.uid, 'ctx.uid')})) ${no}`);
    if (m.gid !== undefined) out.push(`if (!(${ranges(m.gid, 'ctx.gid')})) ${no}`);
    if (m.path !== undefined) out.push(`if (!(${globs(m.path, 'path')})) ${no}`);
    if (m.size !== undefined) {
      // After the path: the size may cost the caller a system call.
      out.push(`if (!sizeTried && ctx.lazy?.size) { sizeTried = true; size = callSize(ctx.lazy.size, size); }`);
      out.push(`if (!(${ranges(m.size, 'size')})) ${no}`);
    }
    for (const key of ['comm', 'exe'] as const) {
      const list = m[key];
      if (list === undefined) continue;
      // The process is read once, for whichever of comm and exe the caller did not give.
      out.push(`if (${key} === undefined && !procTried && ctx.lazy?.process) { procTried = true; const p = callProcess(ctx.lazy.process); if (comm === undefined) comm = p.comm; if (exe === undefined) exe = p.exe; }`);
      out.push(`if (${key} === undefined || !(${globs(list, key)})) ${no}`);
    }
    if (m.content !== undefined) {
      out.push(`if (content === undefined && !contentTried && ctx.lazy?.content) { contentTried = true; content = callContent(ctx.lazy.content, ${contentBytes}); }`);
      out.push(`if (content === undefined) ${no}`, `if (cache === undefined) cache = {};`);
      out.push(`if (!contentMatches(${ref(m.content)}, content, cache, ${contentBytes})) ${no}`);
    }
    out.push(`return ${ref(r.decision)};`, '}');
  }
  const body = [
    'return function decide(ctx) {',
    ...(path === 'full' ? ['const path = ctx.path;'] : []),
    ...(path === 'view' ? ['const view = ctx.view !== undefined ? ctx.view : viewOfPath(ctx.path);', 'const vName = view.name, vTop = view.top, vDepth = view.depth;'] : []),
    'let modeBits = -1, comm = ctx.comm, exe = ctx.exe, procTried = false, size = ctx.size, sizeTried = false;',
    'let content = ctx.content, contentTried = false, cache;',
    ...out,
    `return ${ref(dflt)};`,
    '};',
  ].join('\n');
  const helpers = { TYPE_BIT, accessBits, inRanges, callSize, callProcess, callContent, contentMatches, viewOfPath };
  const names = Object.keys(helpers);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- see the header: constants and indices only
  return new Function('env', ...names, body)(env, ...Object.values(helpers)) as DecideFn;
}
