// The compiled policy. decide() runs at every open and create: everything it
// needs is built at load (globs and regexes compiled, lists turned into
// bitmasks and flat range arrays, one frozen Decision per rule, and the rule
// walk itself generated as one function: compile.ts), so a call allocates
// nothing unless a content pattern has to look at bytes.
import { ContentTest, MatchSpec, PolicySpec } from './schema.js';
import { compileDecide, pathNeed, type DecideFn } from './compile.js';
import { formatRanges } from './ranges.js';
import type { CompiledRule } from './rule.js';
import { Decision, PolicyNeeds, RuleInfo } from './types.js';

function quoteList(xs: readonly string[]): string {
  return xs.map((x) => JSON.stringify(x)).join(' | ');
}

export function describeContent(t: ContentTest): string {
  return t.kind === 'magic' ? `magic ${t.hex}` : `pattern /${t.source}/${t.re.flags} in ${t.bytes} bytes`;
}

/** One line saying what a match requires. */
export function describeMatch(m: MatchSpec): string {
  const parts: string[] = [];
  if (m.path) parts.push(`path ${quoteList(m.path.globs)}`);
  if (m.type) parts.push(`type ${m.type.types.join(' | ')}`);
  if (m.uid) parts.push(`uid ${formatRanges(m.uid, 'id')}`);
  if (m.gid) parts.push(`gid ${formatRanges(m.gid, 'id')}`);
  if (m.comm) parts.push(`comm ${quoteList(m.comm.globs)}`);
  if (m.exe) parts.push(`exe ${quoteList(m.exe.globs)}`);
  if (m.mode) parts.push(`mode ${m.mode.modes.join(' | ')}`);
  if (m.size) parts.push(`size ${formatRanges(m.size, 'size')}`);
  if (m.content) parts.push(`content ${m.content.map(describeContent).join(' | ')}`);
  return parts.length ? parts.join('; ') : 'every open';
}

export function describeAction(d: { action: string; audit: boolean; errno: number }, errnoName: string): string {
  if (d.action === 'deny') return `deny ${errnoName} (${d.errno})`;
  if (d.action === 'mediated' && d.audit) return 'mediated, audited';
  return d.action;
}

export class Policy {
  /** The policy file's name, as given to the loader. */
  readonly file: string;
  /** The text it was loaded from: post it to worker threads and load it again there. */
  readonly text: string;
  /** sha256 of the text, hex: tells which policy a daemon runs. */
  readonly digest: string;
  /** The rules in order; `rules[d.ruleIndex]` for a Decision d. */
  readonly rules: readonly RuleInfo[];
  /** The decision when no rule matches. */
  readonly default: Decision;
  /** What decide() may read, over all reachable rules. */
  readonly needs: Readonly<PolicyNeeds>;
  /** Things that load but look like mistakes, one line each ("FILE:LINE: ..."). */
  readonly warnings: readonly string[];
  /** @internal The compiled rules (for explain). */
  readonly compiled: readonly CompiledRule[];
  /** @internal Index of the first rule that matches everything, or rules.length. */
  readonly reachable: number;

  /** @internal Use loadPolicy / loadPolicyFile. */
  constructor(
    spec: PolicySpec,
    info: { file: string; text: string; digest: string; ruleLines: number[]; defaultLine: number; names: string[]; warnings: string[] },
  ) {
    this.file = info.file;
    this.text = info.text;
    this.digest = info.digest;
    this.warnings = Object.freeze([...info.warnings]);
    const compiled: CompiledRule[] = spec.rules.map((r, index) => {
      const name = info.names[index];
      const line = info.ruleLines[index];
      const summary = describeMatch(r.match);
      const always = Object.keys(r.match).length === 0;
      const decision: Decision = Object.freeze({
        action: r.action,
        audit: r.audit,
        errno: r.errno,
        rule: name,
        ruleIndex: index,
        reason: `rules[${index}] ${JSON.stringify(name)} (${info.file}:${line}) matched: ${summary} -> ${describeAction(r, r.errnoName)}`,
      });
      return Object.freeze({
        index,
        name,
        line,
        description: r.description,
        match: r.match,
        always,
        typeMask: r.match.type?.mask ?? 0,
        modeMask: r.match.mode?.mask ?? 0,
        decision,
        summary,
      });
    });
    this.compiled = Object.freeze(compiled);
    const d = spec.default;
    this.default = Object.freeze({
      action: d.action,
      audit: d.audit,
      errno: d.errno,
      rule: 'default',
      ruleIndex: -1,
      reason: `no rule matched: default (${info.file}:${info.defaultLine}) -> ${describeAction(d, d.errnoName)}`,
    });
    this.rules = Object.freeze(
      compiled.map((c) =>
        Object.freeze({ index: c.index, name: c.name, line: c.line, action: c.decision.action, audit: c.decision.audit, errno: c.decision.errno, summary: c.summary }),
      ),
    );
    const firstAlways = compiled.findIndex((c) => c.always);
    this.reachable = firstAlways < 0 ? compiled.length : firstAlways + 1;
    const needs: PolicyNeeds = { path: pathNeed(compiled, this.reachable), process: false, comm: false, exe: false, content: 0, size: false };
    for (let i = 0; i < this.reachable; i++) {
      const m = compiled[i].match;
      if (m.comm) needs.comm = true;
      if (m.exe) needs.exe = true;
      if (m.size) needs.size = true;
      for (const t of m.content ?? []) needs.content = Math.max(needs.content, t.kind === 'magic' ? t.magic.length : t.bytes);
    }
    needs.process = needs.comm || needs.exe;
    this.needs = Object.freeze(needs);
    this.decide = compileDecide(compiled, this.reachable, this.default, needs.content, needs.path);
  }

  /** The decision for one open or create: the first rule whose conditions all hold, else the default. */
  readonly decide: DecideFn;
}
