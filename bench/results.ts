// The result file: its schema (types and a validator), the summary figures
// computed from the raw runs, and writing <timestamp>.json/.svg plus latest.*.
import fs from 'node:fs';
import path from 'node:path';
import type { Machine, Versions } from './system.js';
import type { Metric } from './jobs.js';
import { median, medianInterval, ratioToNative, signTest, spread } from './stats.js';

export const SCHEMA = 'passfs-bench/1';

export interface RunRecord {
  rep: number;
  job: string;
  mode: string;
  startedAt: string;
  /** Wall time of the whole run (caches dropped before, not counted). */
  seconds: number;
  ok: boolean;
  error?: string;
  /** Metric values (see jobs[].metrics) and extra raw figures. */
  figures: Record<string, number>;
  /** Requests that reached the daemon during the job, by opcode (null for native). */
  requests: Record<string, number> | null;
  /** CPU seconds (user + system) the daemon used during the job, from /proc (null for native). */
  daemonCpu?: number | null;
}

export interface SummaryRow {
  job: string;
  metric: string;
  unit: string;
  higherIsBetter: boolean;
  mode: string;
  n: number;
  median: number | null;
  min: number | null;
  max: number | null;
  /** To native, higher is better: median/median for throughput, native/mode for times. */
  ratio: number | null;
}

export interface RequestSummary {
  job: string;
  mode: string;
  /** Median over the repetitions of the total and of each opcode. */
  total: number;
  byOp: Record<string, number>;
  /** Median daemon CPU seconds per run, and per request (µs); null when not measured. */
  daemonCpu?: number | null;
  cpuMicrosPerRequest?: number | null;
  /** Requests per file, for jobs over a known number of files (many-small-files). */
  perFile?: number | null;
}

export interface ModeRecord {
  name: string;
  mount: string[] | null;
  description: string;
  daemon: { io?: string; transport?: string; mediatedEngine?: string; workers?: number; passthrough?: boolean } | null;
}

export interface JobRecord {
  name: string;
  kind: string;
  description: string;
  metrics: Metric[];
  fioArgs?: string[];
}

export interface BenchResult {
  schema: typeof SCHEMA;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  machine: Machine;
  versions: Versions;
  parameters: {
    modes: string[];
    jobs: string[];
    size: string;
    sizeBytes: number;
    runtime: number;
    reps: number;
    quick: boolean;
    files: number;
    buildSources: number;
    scaleFiles?: number;
    scaleOpen?: number;
    dir: string;
    passfs: string;
  };
  modes: ModeRecord[];
  jobs: JobRecord[];
  runs: RunRecord[];
  summary: SummaryRow[];
  requests: RequestSummary[];
  errors: string[];
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** Mode B against mode A, repetition by repetition, for one metric of one job. */
export interface PairedRow {
  job: string;
  metric: string;
  unit: string;
  higherIsBetter: boolean;
  /** B's value over A's in each repetition where both ran (repetition order). */
  ratios: number[];
  median: number | null;
  /** 95% confidence interval of the median ratio (medianInterval); null with fewer than 6 repetitions. */
  ci: [number, number] | null;
  /** Repetitions where B did worse than A: took longer, or gave less throughput. */
  worse: number;
  /** Repetitions where B did better (equal values count as neither). */
  better: number;
  /** Two-sided sign test over worse against better. */
  p: number;
}

/** Throws an Error unless a and b are two different modes among `modes`. */
export function checkPair(modes: readonly string[], a: string, b: string): void {
  if (a === b) throw new Error(`compare two different modes (got "${a}" twice)`);
  for (const m of [a, b]) if (!modes.includes(m)) throw new Error(`mode "${m}" is not among the modes (${modes.join(', ')})`);
}

/**
 * The paired comparison of modes `a` and `b`. Within a repetition the two ran
 * one after the other, so a ratio per repetition leaves out the drift between
 * repetitions that the medians keep (on a noisy machine the larger part of
 * the spread). Throws an Error naming the problem if a or b is not a mode of
 * the result, or both are the same.
 */
export function pairedComparison(r: BenchResult, a: string, b: string): PairedRow[] {
  checkPair(r.parameters.modes, a, b);
  const rows: PairedRow[] = [];
  for (const j of r.jobs) {
    const runOf = (mode: string, rep: number) => r.runs.find((x) => x.job === j.name && x.mode === mode && x.rep === rep && x.ok);
    for (const met of j.metrics) {
      const ratios: number[] = [];
      let worse = 0;
      let better = 0;
      for (let rep = 1; rep <= r.parameters.reps; rep++) {
        const va = runOf(a, rep)?.figures[met.key];
        const vb = runOf(b, rep)?.figures[met.key];
        if (!(va! > 0) || !Number.isFinite(vb)) continue;
        ratios.push(vb! / va!);
        if (vb === va) continue;
        if ((vb! > va!) !== met.higherIsBetter) worse++;
        else better++;
      }
      rows.push({
        job: j.name, metric: met.key, unit: met.unit, higherIsBetter: met.higherIsBetter,
        ratios, median: ratios.length ? median(ratios) : null, ci: medianInterval(ratios), worse, better, p: signTest(worse, worse + better),
      });
    }
  }
  return rows;
}

export function summarize(jobs: JobRecord[], modes: string[], runs: RunRecord[]): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const j of jobs) {
    for (const m of j.metrics) {
      const values = (mode: string) => runs.filter((r) => r.ok && r.job === j.name && r.mode === mode).map((r) => r.figures[m.key]);
      const native = spread(values('native'));
      for (const mode of modes) {
        const s = spread(values(mode));
        rows.push({
          job: j.name, metric: m.key, unit: m.unit, higherIsBetter: m.higherIsBetter, mode,
          n: s.n, median: finite(s.median), min: finite(s.min), max: finite(s.max),
          ratio: modes.includes('native') ? ratioToNative(s.median, native.median, m.higherIsBetter) : null,
        });
      }
    }
  }
  return rows;
}

/** `files`: how many files each `files` job works on, by job name (its requests are also given per file). */
export function summarizeRequests(jobs: JobRecord[], modes: string[], runs: RunRecord[], files: Record<string, number> = {}): RequestSummary[] {
  const out: RequestSummary[] = [];
  for (const j of jobs) {
    for (const mode of modes) {
      const rs = runs.filter((r) => r.ok && r.job === j.name && r.mode === mode && r.requests);
      if (rs.length === 0) continue;
      const ops = new Set(rs.flatMap((r) => Object.keys(r.requests!)));
      const byOp: Record<string, number> = {};
      for (const op of ops) {
        const v = median(rs.map((r) => r.requests![op] ?? 0));
        if (v) byOp[op] = v;
      }
      const totals = rs.map((r) => Object.values(r.requests!).reduce((a, b) => a + b, 0));
      const total = median(totals);
      const cpus = rs.filter((r) => typeof r.daemonCpu === 'number');
      const daemonCpu = cpus.length ? median(cpus.map((r) => r.daemonCpu!)) : null;
      const perReq = cpus.length ? median(cpus.map((r) => (r.daemonCpu! * 1e6) / Math.max(1, Object.values(r.requests!).reduce((a, b) => a + b, 0)))) : null;
      out.push({ job: j.name, mode, total, byOp, daemonCpu, cpuMicrosPerRequest: perReq, perFile: j.kind === 'files' && files[j.name] > 0 ? total / files[j.name] : null });
    }
  }
  return out;
}

/** Problems with a parsed result file's shape; empty when it is well-formed. */
export function validateResult(x: unknown): string[] {
  const p: string[] = [];
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const numOrNull = (v: unknown) => v === null || num(v);
  const str = (v: unknown) => typeof v === 'string';
  const need = (o: Record<string, unknown>, where: string, keys: Record<string, (v: unknown) => boolean>) => {
    for (const [k, ok] of Object.entries(keys)) if (!ok(o[k])) p.push(`${where}.${k}: bad or missing (${JSON.stringify(o[k])?.slice(0, 40)})`);
  };
  if (!isObj(x)) return ['not an object'];
  need(x, 'result', {
    schema: (v) => v === SCHEMA, startedAt: str, finishedAt: str, durationSeconds: num,
    machine: isObj, versions: isObj, parameters: isObj, modes: Array.isArray, jobs: Array.isArray,
    runs: Array.isArray, summary: Array.isArray, requests: Array.isArray, errors: Array.isArray,
  });
  if (p.length) return p;
  need(x.machine as Record<string, unknown>, 'machine', { cpus: num, memoryBytes: num, kernel: str, cpuModel: str, scratchFs: str });
  need(x.versions as Record<string, unknown>, 'versions', { node: str, fio: str, passfs: str });
  const par = x.parameters as Record<string, unknown>;
  need(par, 'parameters', {
    modes: Array.isArray, jobs: Array.isArray, size: str, sizeBytes: num, runtime: num, reps: num,
    quick: (v) => typeof v === 'boolean', files: num, buildSources: num, dir: str, passfs: str,
  });
  const modes = new Set((x.modes as unknown[]).map((m) => (isObj(m) ? m.name : undefined)));
  (x.modes as unknown[]).forEach((m, i) => {
    if (!isObj(m)) return void p.push(`modes[${i}]: not an object`);
    need(m, `modes[${i}]`, { name: str, mount: (v) => v === null || (Array.isArray(v) && v.every(str)), description: str, daemon: (v) => v === null || isObj(v) });
  });
  const metrics = new Map<string, Set<string>>();
  (x.jobs as unknown[]).forEach((j, i) => {
    if (!isObj(j)) return void p.push(`jobs[${i}]: not an object`);
    need(j, `jobs[${i}]`, { name: str, kind: str, description: str, metrics: Array.isArray });
    if (Array.isArray(j.metrics)) {
      metrics.set(String(j.name), new Set(j.metrics.map((m: Record<string, unknown>) => String(m.key))));
      j.metrics.forEach((m: unknown, k: number) => {
        if (!isObj(m)) return void p.push(`jobs[${i}].metrics[${k}]: not an object`);
        need(m, `jobs[${i}].metrics[${k}]`, { key: str, unit: (v) => v === 'MiB/s' || v === 'IOPS' || v === 's', higherIsBetter: (v) => typeof v === 'boolean' });
      });
    }
  });
  (x.runs as unknown[]).forEach((r, i) => {
    if (!isObj(r)) return void p.push(`runs[${i}]: not an object`);
    need(r, `runs[${i}]`, {
      rep: num, job: (v) => metrics.has(String(v)), mode: (v) => modes.has(v), startedAt: str, seconds: num,
      ok: (v) => typeof v === 'boolean', figures: isObj, requests: (v) => v === null || isObj(v),
    });
    if (isObj(r.figures)) for (const [k, v] of Object.entries(r.figures)) if (!num(v)) p.push(`runs[${i}].figures.${k}: not a number`);
    if (r.ok === true && isObj(r.figures)) {
      for (const k of metrics.get(String(r.job)) ?? []) if (!num(r.figures[k])) p.push(`runs[${i}].figures.${k}: missing`);
    }
    if (r.ok === false && !str(r.error)) p.push(`runs[${i}].error: a failed run needs its error`);
    if (r.mode === 'native' && r.requests !== null) p.push(`runs[${i}].requests: native has no daemon`);
  });
  (x.summary as unknown[]).forEach((s, i) => {
    if (!isObj(s)) return void p.push(`summary[${i}]: not an object`);
    need(s, `summary[${i}]`, {
      job: (v) => metrics.has(String(v)), metric: (v) => metrics.get(String(s.job))?.has(String(v)) ?? false, unit: str,
      higherIsBetter: (v) => typeof v === 'boolean', mode: (v) => modes.has(v), n: num,
      median: numOrNull, min: numOrNull, max: numOrNull, ratio: numOrNull,
    });
    if (num(s.min) && num(s.max) && num(s.median) && !((s.min as number) <= (s.median as number) && (s.median as number) <= (s.max as number))) {
      p.push(`summary[${i}]: min <= median <= max does not hold`);
    }
  });
  (x.requests as unknown[]).forEach((r, i) => {
    if (!isObj(r)) return void p.push(`requests[${i}]: not an object`);
    need(r, `requests[${i}]`, { job: str, mode: (v) => modes.has(v) && v !== 'native', total: num, byOp: isObj });
  });
  if (!(x.errors as unknown[]).every(str)) p.push('errors: not all strings');
  return p;
}

export function timestamp(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

/** Write <stamp>.json and <stamp>.svg into outDir, and copy them to latest.json/latest.svg. */
export function writeResults(outDir: string, result: BenchResult, svg: string): { json: string; svg: string } {
  fs.mkdirSync(outDir, { recursive: true });
  const stamp = timestamp(new Date(result.startedAt));
  const json = path.join(outDir, `${stamp}.json`);
  const chart = path.join(outDir, `${stamp}.svg`);
  const text = JSON.stringify(result, null, 2) + '\n';
  fs.writeFileSync(json, text);
  fs.writeFileSync(chart, svg);
  fs.writeFileSync(path.join(outDir, 'latest.json'), text);
  fs.writeFileSync(path.join(outDir, 'latest.svg'), svg);
  return { json, svg: chart };
}
