// `passfs policy explain`: every rule in order, whether it matches the open
// and why (or which condition fails), then the decision. Slow and thorough on
// purpose; the daemon uses Policy.decide().
import { describeAccess } from './context.js';
import { errnoName } from './errno.js';
import { GlobList } from './glob.js';
import { accessBits, bytesToLatin1, callContent, callProcess, callSize, CompiledRule, magicMatches } from './rule.js';
import { describeContent, Policy } from './match.js';
import { formatRanges, inRanges } from './ranges.js';
import { MODE_BIT, TYPE_BIT } from './schema.js';
import { Decision, OpenContext } from './types.js';

interface Outcome {
  ok: boolean;
  why: string;
}

interface Resolved {
  ctx: OpenContext;
  comm?: string;
  exe?: string;
  content?: Uint8Array;
}

const q = (s: string) => JSON.stringify(s);

function globOutcome(key: string, list: GlobList, value: string | undefined): Outcome {
  if (value === undefined) return { ok: false, why: `${key} unknown (needed for ${list.globs.map(q).join(' | ')})` };
  const hit = list.each.find((g) => g.test(value));
  if (hit) return { ok: true, why: `${key} ${q(value)} matches ${q(hit.glob)}` };
  return { ok: false, why: `${key} ${q(value)} matches none of ${list.globs.map(q).join(' | ')}` };
}

function evaluate(r: CompiledRule, v: Resolved, contentWant: number): Outcome[] {
  const m = r.match;
  const c = v.ctx;
  const out: Outcome[] = [];
  if (m.type) {
    const ok = (m.type.mask & (TYPE_BIT[c.type] | 0)) !== 0;
    out.push({ ok, why: `type ${c.type} ${ok ? 'is' : 'is not'} ${m.type.types.join(' | ')}` });
  }
  if (m.mode) {
    const bits = accessBits(c.access);
    const hit = m.mode.modes.filter((k) => (MODE_BIT[k] & bits) !== 0);
    out.push(
      hit.length
        ? { ok: true, why: `mode ${describeAccess(c.access)} is ${hit.join(' and ')}` }
        : { ok: false, why: `mode ${describeAccess(c.access)} is none of ${m.mode.modes.join(' | ')}` },
    );
  }
  for (const key of ['uid', 'gid', 'size'] as const) {
    const ranges = m[key];
    if (!ranges) continue;
    const x = c[key];
    const ok = inRanges(ranges, x);
    out.push({ ok, why: `${key} ${x} ${ok ? 'is in' : 'is not in'} ${formatRanges(ranges, key === 'size' ? 'size' : 'id')}` });
  }
  if (m.path) out.push(globOutcome('path', m.path, c.path));
  if (m.comm) out.push(globOutcome('comm', m.comm, v.comm));
  if (m.exe) out.push(globOutcome('exe', m.exe, v.exe));
  if (m.content) {
    const all = m.content.map(describeContent).join(' | ');
    if (!v.content) out.push({ ok: false, why: `content unknown (needed for ${all})` });
    else {
      const text = bytesToLatin1(v.content, contentWant);
      const hit = m.content.find((t) => (t.kind === 'magic' ? magicMatches(t.magic, v.content!) : t.re.test(text.slice(0, t.bytes))));
      out.push(
        hit
          ? { ok: true, why: `content (${v.content.length} bytes) has ${describeContent(hit)}` }
          : { ok: false, why: `content (${v.content.length} bytes) has none of ${all}` },
      );
    }
  }
  return out;
}

function describeDecision(d: Decision): string {
  const what = d.action === 'deny' ? `deny ${errnoName(d.errno)} (${d.errno})` : d.action === 'mediated' && d.audit ? 'mediated, audited' : d.action;
  return d.ruleIndex < 0 ? `decision: ${what}, by the default (no rule matched)` : `decision: ${what}, by rules[${d.ruleIndex}] ${q(d.rule)}`;
}

/** The open being explained, in one line. */
export function describeContext(c: OpenContext, v?: { comm?: string; exe?: string; content?: Uint8Array }): string {
  const comm = v ? v.comm : c.comm;
  const exe = v ? v.exe : c.exe;
  const content = v ? v.content : c.content;
  return (
    `open: path ${q(c.path)}, type ${c.type}, uid ${c.uid}, gid ${c.gid}, pid ${c.pid}, ` +
    `comm ${comm === undefined ? 'unknown' : q(comm)}, exe ${exe === undefined ? 'unknown' : q(exe)}, ` +
    `mode ${describeAccess(c.access)}, size ${c.size}, content ${content === undefined ? 'unknown' : `${content.length} bytes`}`
  );
}

/**
 * Lines explaining the decision for `ctx`: the open, each rule in order
 * (MATCH with why, "no match" with the conditions that fail, or "not reached"
 * after the deciding rule), then "decision: ...". Agrees with policy.decide(ctx).
 */
export function explain(policy: Policy, ctx: OpenContext): string[] {
  const needs = policy.needs;
  if (needs.size && ctx.lazy?.size) ctx = { ...ctx, size: callSize(ctx.lazy.size, ctx.size) };
  const v: Resolved = { ctx, comm: ctx.comm, exe: ctx.exe, content: ctx.content };
  if (needs.process && (v.comm === undefined || v.exe === undefined) && ctx.lazy?.process) {
    const p = callProcess(ctx.lazy.process);
    if (v.comm === undefined) v.comm = p.comm;
    if (v.exe === undefined) v.exe = p.exe;
  }
  if (needs.content > 0 && v.content === undefined && ctx.lazy?.content) v.content = callContent(ctx.lazy.content, needs.content);

  const lines = [describeContext(ctx, v)];
  let decided: Decision | undefined;
  for (const r of policy.compiled) {
    const head = `rules[${r.index}] ${q(r.name)} (${policy.file}:${r.line})`;
    const outs = evaluate(r, v, needs.content);
    const matches = outs.every((o) => o.ok);
    const detail = r.always ? 'matches every open' : matches ? outs.map((o) => o.why).join('; ') : outs.filter((o) => !o.ok).map((o) => o.why).join('; ');
    if (decided) lines.push(`${head}: not reached (${matches ? 'would match' : `would not match: ${detail}`})`);
    else if (matches) {
      decided = r.decision;
      lines.push(`${head}: MATCH: ${detail}`);
    } else lines.push(`${head}: no match: ${detail}`);
  }
  lines.push(describeDecision(decided ?? policy.default));
  return lines;
}
