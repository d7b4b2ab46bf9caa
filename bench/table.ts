// The result as tables: figures (median, spread, ratio to native) and the
// requests that reached the daemon; as aligned text for the terminal or as
// Markdown for bench/README.md.
import { pairedComparison, type BenchResult, type SummaryRow } from './results.js';
import { spreadPercent } from './stats.js';

export function formatValue(v: number | null, unit: string): string {
  if (v === null || !Number.isFinite(v)) return '-';
  if (unit === 'IOPS') return v >= 1e4 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(0);
  if (unit === 's') return v < 10 ? v.toFixed(2) : v.toFixed(1);
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function formatRatio(r: number | null): string {
  return r === null ? '-' : `${r.toFixed(2)}x`;
}

export function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  return String(Math.round(n));
}

function metricLabel(job: string, metric: string, kind: string | undefined): [string, string] {
  if (kind === 'fio') return [job, metric];
  if (kind === 'files') return [`${job}: ${metric}`, 's'];
  return [`${job} (${metric})`, 's'];
}

interface Grid {
  head: string[];
  rows: string[][];
}

function figureGrid(r: BenchResult): Grid {
  const modes = r.parameters.modes;
  const withRatio = (m: string) => m !== 'native' && modes.includes('native');
  const head = ['job', 'unit'];
  for (const m of modes) head.push(m, ...(withRatio(m) ? [`${m} /native`] : []));
  const rows: string[][] = [];
  const kinds = new Map(r.jobs.map((j) => [j.name, j.kind]));
  for (const j of r.jobs) {
    for (const met of j.metrics) {
      const [label, unit] = metricLabel(j.name, met.key, kinds.get(j.name));
      const row = [label, unit];
      for (const m of modes) {
        const s = r.summary.find((x) => x.job === j.name && x.metric === met.key && x.mode === m) as SummaryRow | undefined;
        const failed = r.runs.some((x) => x.job === j.name && x.mode === m && !x.ok);
        let cell = s && s.n ? formatValue(s.median, met.unit) : 'failed';
        if (s && s.n) {
          const sp = spreadPercent({ n: s.n, median: s.median ?? NaN, min: s.min ?? NaN, max: s.max ?? NaN });
          if (sp) cell += ` (${sp})`;
          if (failed) cell += ' !';
        }
        row.push(cell);
        if (withRatio(m)) row.push(formatRatio(s?.ratio ?? null));
      }
      rows.push(row);
    }
  }
  return { head, rows };
}

function requestGrid(r: BenchResult): Grid | null {
  const modes = r.parameters.modes.filter((m) => m !== 'native');
  if (modes.length === 0 || r.requests.length === 0) return null;
  const rows = r.jobs.map((j) => [j.name, ...modes.map((m) => {
    const q = r.requests.find((x) => x.job === j.name && x.mode === m);
    if (!q) return '-';
    const top = Object.entries(q.byOp).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([op, n]) => `${op} ${formatCount(n)}`);
    const per = q.perFile ? `, ${q.perFile.toFixed(1)}/file` : '';
    const cpu = typeof q.daemonCpu === 'number' ? `; daemon CPU ${q.daemonCpu.toFixed(2)} s${q.cpuMicrosPerRequest ? `, ${q.cpuMicrosPerRequest.toFixed(0)} µs/request` : ''}` : '';
    return `${formatCount(q.total)}${per}${top.length ? ` (${top.join(', ')})` : ''}${cpu}`;
  })]);
  return { head: ['job', ...modes], rows };
}

function text(g: Grid): string {
  const w = g.head.map((h, i) => Math.max(h.length, ...g.rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ').trimEnd();
  return [line(g.head), w.map((n) => '-'.repeat(n)).join('  '), ...g.rows.map(line)].join('\n');
}

function markdown(g: Grid): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  return [
    `| ${g.head.map(esc).join(' | ')} |`,
    `| ${g.head.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`,
    ...g.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/** The figures table, then the requests table, as text or Markdown. */
export function renderTables(r: BenchResult, format: 'text' | 'markdown' = 'text'): string {
  const f = format === 'text' ? text : markdown;
  const p = r.parameters;
  const out = [
    (p.reps > 1 ? `Median of ${p.reps} repetitions (spread: min/max as % of the median). ` : 'One repetition: every figure is a single sample (no spread). ') +
      '/native: ratio to native in this run, higher is better (throughput: mode/native; seconds: native/mode). ' +
      '"!" marks a job/mode with failed runs.',
    '',
    f(figureGrid(r)),
  ];
  const rq = requestGrid(r);
  if (rq) out.push('', 'Requests that reached the daemon per run (median; top opcodes):', '', f(rq));
  if (r.errors.length) out.push('', `Errors (${r.errors.length}):`, ...r.errors.map((e) => `- ${e}`));
  return out.join('\n');
}

/**
 * Mode b against mode a, repetition by repetition (pairedComparison), as text
 * or Markdown. Throws an Error for modes the result does not have.
 */
export function renderPaired(r: BenchResult, a: string, b: string, format: 'text' | 'markdown' = 'text'): string {
  const f = format === 'text' ? text : markdown;
  const kinds = new Map(r.jobs.map((j) => [j.name, j.kind]));
  const rows = pairedComparison(r, a, b).map((p) => {
    const [label, unit] = metricLabel(p.job, p.metric, kinds.get(p.job));
    const n = p.worse + p.better;
    return [label, unit, p.ratios.map((x) => x.toFixed(2)).join(' ') || '-', p.median === null ? '-' : p.median.toFixed(3),
      p.ci ? `${p.ci[0].toFixed(3)}-${p.ci[1].toFixed(3)}` : '-', `${p.worse}/${n}`, n ? p.p.toFixed(3) : '-'];
  });
  return [
    `${b} against ${a}, repetition by repetition: ${b}/${a} of each value; 95% CI: where the median ratio lies ` +
      `(order statistics, needs 6 repetitions; a difference is measurable when it excludes 1); "worse": ${b} took longer or gave less ` +
      'throughput; p: two-sided sign test (how likely so uneven a split is if neither mode were slower).',
    '',
    f({ head: ['job', 'unit', `${b}/${a} per repetition`, 'median', '95% CI', 'worse', 'p'], rows }),
  ].join('\n');
}
