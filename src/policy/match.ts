// The compiled policy. decide() runs at every open and create: everything it
// needs is built at load (globs and regexes compiled, lists turned into
// bitmasks and flat range arrays, one frozen Decision per rule, and the rule
// walk itself generated as one function: compile.ts), so a call allocates
// nothing unless a content pattern has to look at bytes.
import { ContentTest, MatchSpec, PolicySpec } from './schema.js';
import { compileDecide, pathNeed, type DecideFn } from './compile.js';
import { formatRanges } from './ranges.js';
import type { CompiledRule } from './rule.js';
import { Decision, OpenContext, PolicyNeeds, RuleInfo } from './types.js';

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

    // For every opener (see forEveryOpener): the rules as seen from the file
    // alone. A rule with conditions on the opener (mode, uid, gid, comm,
    // exe) may or may not match another opener: an audited mediated one is
    // kept without those conditions (if the file matches the rest, some
    // opener could be audited), any other is left out (it would not end the
    // walk for every opener). A rule on the file alone is kept as it is.
    /** Conditions on who opens (uid, gid, process); `opener` adds the access mode. */
    const onOpener = (m: MatchSpec) => m.uid !== undefined || m.gid !== undefined || m.comm !== undefined || m.exe !== undefined;
    const opener = (m: MatchSpec) => m.mode !== undefined || onOpener(m);
    /** A rule without its conditions on the opener (`keepMode`: the access stays), so that it may match some opener. */
    const without = (c: CompiledRule, keepMode: boolean): CompiledRule => {
      const { path, type, size, content, mode } = c.match;
      const match: MatchSpec = keepMode ? { path, type, size, content, mode } : { path, type, size, content };
      return { ...c, match, modeMask: keepMode ? c.modeMask : 0, always: Object.values(match).every((v) => v === undefined) };
    };
    const compileList = (list: CompiledRule[]): DecideFn => {
      const always = list.findIndex((c) => c.always);
      return compileDecide(list, always < 0 ? list.length : always + 1, this.default, needs.content, needs.path);
    };
    const byFile: CompiledRule[] = [];
    for (let i = 0; i < this.reachable; i++) {
      const c = compiled[i];
      if (!opener(c.match)) byFile.push(c);
      else if (c.decision.action === 'mediated' && c.decision.audit) byFile.push(without(c, false));
    }
    const audited = (d: Decision) => d.action === 'mediated' && d.audit;
    this.someAudited = byFile.some((c) => audited(c.decision)) || audited(this.default);
    this.decideByFile = compileList(byFile);
    // Denied for every opener (see deniedForEveryOpener), with the access as
    // given: a rule on the opener (uid, gid, comm, exe) that does not deny
    // may match some opener, so it is kept without those conditions; one
    // that denies may not match all, so it is left out.
    const denyAll: CompiledRule[] = [];
    for (let i = 0; i < this.reachable; i++) {
      const c = compiled[i];
      if (!onOpener(c.match)) denyAll.push(c);
      else if (c.decision.action !== 'deny') denyAll.push(without(c, true));
    }
    this.decideDenyAll = compileList(denyAll);
    // A denial that depends on the file's size or first bytes can change with the file: not one to remember.
    let sized = false;
    this.lasting = Object.freeze(compiled.map((c) => !(sized ||= c.match.size !== undefined || c.match.content !== undefined)));
    this.defaultLasting = !compiled.slice(0, this.reachable).some((c) => c.match.size !== undefined || c.match.content !== undefined);
    this.shared = compiled.map((c) => Object.freeze({
      ...c.decision, action: 'mediated' as const, audit: false,
      reason: `${c.decision.reason}; mediated instead: another open of this file could be audited (one I/O mode per inode)`,
    }));
    this.sharedDefault = Object.freeze({ ...this.default, action: 'mediated' as const, audit: false,
      reason: `${this.default.reason}; mediated instead: another open of this file could be audited (one I/O mode per inode)` });
  }

  /** The decision for one open or create: the first rule whose conditions all hold, else the default. */
  readonly decide: DecideFn;
  private readonly decideByFile: DecideFn;
  private readonly decideDenyAll: DecideFn;

  /**
   * Is the open described by `ctx` (its path, type and access) denied
   * whoever opens it, whatever uid, gid or process, and by rules that do not
   * look at the file's size or content (which can change)? Then the denial
   * is the file's, and holds under every name it has (fs/decisions.ts).
   */
  deniedForEveryOpener(ctx: OpenContext): boolean {
    const d = this.decideDenyAll(ctx);
    return d.action === 'deny' && (d.ruleIndex >= 0 ? this.lasting[d.ruleIndex] : this.defaultLasting);
  }
  /** Per rule: neither it nor a rule before it looks at the size or the content. */
  private readonly lasting: readonly boolean[];
  private readonly defaultLasting: boolean;
  private readonly someAudited: boolean;
  private readonly shared: readonly Decision[];
  private readonly sharedDefault: Decision;

  /**
   * The kernel keeps one I/O mode per inode while it is open. A mediated
   * open that meets the file in passthrough joins it (fs/opens.ts), except
   * an audited one: its reads and writes must reach the daemon, and it would
   * have to be refused (EBUSY), so one opener's passthrough could make
   * another's open fail. A passthrough decision `d` (for `ctx`) is therefore
   * made mediated, unaudited, when some other opener of the same file could
   * be audited (an audited rule that matches this file whatever the
   * opener's mode, uid, gid or process). Other decisions are returned as
   * they are.
   */
  forEveryOpener(d: Decision, ctx: OpenContext): Decision {
    if (d.action !== 'passthrough' || !this.someAudited) return d;
    const other = this.decideByFile(ctx);
    if (other.action !== 'mediated' || !other.audit) return d;
    return d.ruleIndex >= 0 ? this.shared[d.ruleIndex] : this.sharedDefault;
  }
}
