// The bench (bench/): fio output parsing on captured fio JSON, the statistics,
// the result schema (on a real tiny run), the SVG chart, and clean-up when the
// bench is interrupted. No timing assertions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FIO_JOBS, fioArgs, fioErrorLine, parseFioOutput } from '../bench/fio.js';
import { median, medianInterval, ratioToNative, signTest, spread, spreadPercent } from '../bench/stats.js';
import { BenchResult, JobRecord, RunRecord, SCHEMA, pairedComparison, summarize, summarizeRequests, validateResult } from '../bench/results.js';
import { chartGroups, renderChart } from '../bench/chart.js';
import { renderPaired, renderTables } from '../bench/table.js';
import { resolveModes, MODES } from '../bench/modes.js';
import { resolveJobs, JOB_NAMES } from '../bench/jobs.js';
import { mountsUnder, parseSize } from '../bench/system.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIX = path.join(ROOT, 'test/fixtures');
const fixture = (f: string) => fs.readFileSync(path.join(FIX, f), 'utf8');
const close = (a: number, b: number, eps = 1e-6) => Math.abs(a - b) <= eps * Math.max(1, Math.abs(b));

// ---- fio output --------------------------------------------------------------------------------

test('fio JSON: sequential sync read (captured fio 3.33 output)', () => {
  const f = parseFioOutput(fixture('fio-read-sync.json'), 'read');
  assert.ok(close(f.mibps, 599186285 / 1048576), `MiB/s ${f.mibps}`);
  assert.ok(close(f.iops, 146285.714286));
  assert.is(f.ioBytes, 16 << 20);
  assert.is(f.runtimeMs, 28);
  assert.is(f.error, 0);
  assert.ok(f.clatMeanUs > 0);
});

test('fio JSON: libaio randwrite, latency percentiles in microseconds', () => {
  const f = parseFioOutput(fixture('fio-libaio-randwrite.json'), 'write');
  assert.ok(close(f.mibps, 223266781 / 1048576));
  assert.ok(close(f.iops, 54508.491508));
  assert.is(f.ioBytes, 223490048);
  assert.ok(close(f.clatP99Us!, 847.872));
  assert.ok(close(f.clatMeanUs, 570.120162161));
  // MiB/s and IOPS agree at 4 KiB.
  assert.ok(close(f.mibps, (f.iops * 4096) / 1048576, 1e-3));
});

test('fio JSON: notes before the JSON are skipped; no JSON is an error', () => {
  const text = 'note: both iodepth >= 1 and synchronous I/O engine are selected, queue depth will be capped at 1\n' + fixture('fio-read-sync.json');
  assert.ok(parseFioOutput(text, 'read').iops > 0);
  assert.throws(() => parseFioOutput('fio: pid=1, err=22/file:io_u.c:1889, func=io_u error\n', 'read'), /no JSON/);
  assert.throws(() => parseFioOutput('{"jobs": []}', 'read'), /no jobs/);
  assert.throws(() => parseFioOutput('{"jobs": [{}]}', 'write'), /no write/);
});

test('fio error line: first error, counted, without the fio: prefix', () => {
  const e = 'fio: io_u error on file /x: Invalid argument: read offset=1, buflen=4096\n'.repeat(3);
  assert.is(fioErrorLine(e), 'io_u error on file /x: Invalid argument: read offset=1, buflen=4096 (and 2 more)');
});

test('fio jobs: the seed protocol and the AIO jobs', () => {
  const names = FIO_JOBS.map((j) => j.name);
  assert.equal(names, ['read', 'randread', 'write', 'randwrite', 'libaio-randread', 'libaio-randwrite', 'io_uring-randread', 'io_uring-randwrite']);
  for (const j of FIO_JOBS) {
    const a = fioArgs(j, '/f', 1 << 30, 7);
    assert.ok(a.includes('--bs=4096') && a.includes('--randseed=0') && a.includes('--output-format=json'), j.name);
    assert.ok(a.includes(`--size=${1 << 30}`) && a.includes('--filename=/f'));
    const timed = a.includes('--time_based=1') && a.includes('--runtime=7');
    assert.is(timed, j.rw.startsWith('rand'), `${j.name}: time-based only for random jobs`);
    if (j.ioengine === 'sync') assert.ok(a.includes('--fsync_on_close=1') && a.includes('--direct=0'), j.name);
    else assert.ok(a.includes('--direct=1') && a.includes('--iodepth=32') && a.includes(`--ioengine=${j.ioengine}`), j.name);
  }
});

// ---- statistics --------------------------------------------------------------------------------

test('median, spread, ratio to native', () => {
  assert.is(median([3, 1, 2]), 2);
  assert.is(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.equal(spread([5, NaN, 1, 3]), { n: 3, median: 3, min: 1, max: 5 });
  assert.is(spread([]).n, 0);
  // Throughput: mode/native; time: native/mode; higher is better either way.
  assert.is(ratioToNative(50, 100, true), 0.5);
  assert.is(ratioToNative(20, 10, false), 0.5);
  assert.is(ratioToNative(8, 10, false), 1.25);
  assert.is(ratioToNative(NaN, 10, true), null);
  assert.is(ratioToNative(10, 0, true), null);
  assert.is(spreadPercent({ n: 3, median: 100, min: 97, max: 104 }), '-3%/+4%');
  assert.is(spreadPercent({ n: 1, median: 100, min: 100, max: 100 }), '');
});

test('sizes, modes and jobs resolve; unknown names are errors', () => {
  assert.is(parseSize('2G'), 2 ** 31);
  assert.is(parseSize('512M'), 512 * 2 ** 20);
  assert.throws(() => parseSize('12x'));
  assert.equal(resolveModes(['native', 'mediated']).map((m) => m.name), ['native', 'mediated']);
  assert.throws(() => resolveModes(['nope']), /unknown mode/);
  assert.ok(MODES.find((m) => m.name === 'native')!.mount === null);
  assert.ok(MODES.filter((m) => m.name !== 'native').every((m) => m.mount && m.mount.length > 0));
  assert.equal(resolveJobs(['build', 'read']).map((j) => j.name), ['read', 'build'], 'canonical order');
  assert.throws(() => resolveJobs(['nope']), /unknown job/);
  assert.ok(JOB_NAMES.includes('many-small-files') && JOB_NAMES.includes('build'));
});

// ---- results: summary and schema ---------------------------------------------------------------

function synthetic(): BenchResult {
  const jobs: JobRecord[] = [
    { name: 'read', kind: 'fio', description: 'd', metrics: [{ key: 'MiB/s', unit: 'MiB/s', higherIsBetter: true }, { key: 'IOPS', unit: 'IOPS', higherIsBetter: true }] },
    { name: 'many-small-files', kind: 'files', description: 'd', metrics: [{ key: 'create', unit: 's', higherIsBetter: false }, { key: 'total', unit: 's', higherIsBetter: false }] },
    { name: 'build', kind: 'build', description: 'd', metrics: [{ key: 'make', unit: 's', higherIsBetter: false }] },
  ];
  const modes = ['native', 'passthrough', 'mediated'];
  const base: Record<string, Record<string, number>> = {
    read: { 'MiB/s': 1000, IOPS: 256000 },
    'many-small-files': { create: 1, total: 2 },
    build: { make: 10 },
  };
  const factor: Record<string, number> = { native: 1, passthrough: 0.9, mediated: 0.25 };
  const runs: RunRecord[] = [];
  for (let rep = 1; rep <= 3; rep++) {
    for (const j of jobs) {
      for (const m of modes) {
        const wiggle = 1 + (rep - 2) * 0.01;
        const figures: Record<string, number> = {};
        for (const [k, v] of Object.entries(base[j.name])) figures[k] = (j.kind === 'fio' ? v * factor[m] : v / factor[m]) * wiggle;
        const failed = m === 'mediated' && j.name === 'build' && rep === 3;
        runs.push({
          rep, job: j.name, mode: m, startedAt: new Date().toISOString(), seconds: 1, ok: !failed,
          ...(failed ? { error: 'make: boom' } : {}), figures: failed ? {} : figures,
          requests: m === 'native' ? null : { LOOKUP: 2, READ: m === 'mediated' ? 100 * rep : 0 },
        });
      }
    }
  }
  return {
    schema: SCHEMA, startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:10:00.000Z', durationSeconds: 600,
    machine: { cpus: 2, cpuModel: 'cpu', memoryBytes: 24 << 30, kernel: '6.18', scratchFs: 'ext2/ext3' },
    versions: { node: 'v20', fio: 'fio-3.33', passfs: '0.1.0', gcc: '12' },
    parameters: { modes, jobs: jobs.map((j) => j.name), size: '2G', sizeBytes: 2 ** 31, runtime: 5, reps: 3, quick: false, files: 100, buildSources: 10, dir: '/x', passfs: '/bin/passfs.js' },
    modes: modes.map((name) => ({ name, mount: name === 'native' ? null : ['--io', name], description: name, daemon: name === 'native' ? null : { io: name } })),
    jobs, runs,
    summary: summarize(jobs, modes, runs),
    requests: summarizeRequests(jobs, modes, runs),
    errors: ['rep 3 build mediated: make: boom'],
  };
}

test('summary: medians, spread and oriented ratios', () => {
  const r = synthetic();
  const row = (job: string, metric: string, mode: string) => r.summary.find((s) => s.job === job && s.metric === metric && s.mode === mode)!;
  assert.ok(close(row('read', 'MiB/s', 'native').median!, 1000));
  assert.ok(close(row('read', 'MiB/s', 'native').min!, 990));
  assert.ok(close(row('read', 'MiB/s', 'native').max!, 1010));
  assert.ok(close(row('read', 'MiB/s', 'passthrough').ratio!, 0.9));
  assert.ok(close(row('read', 'IOPS', 'mediated').ratio!, 0.25));
  assert.ok(close(row('many-small-files', 'total', 'passthrough').ratio!, 0.9), 'time ratio is native/mode');
  assert.is(row('read', 'MiB/s', 'native').ratio, 1);
  const failedBuild = row('build', 'make', 'mediated');
  assert.is(failedBuild.n, 2, 'a failed run is left out');
  const rq = r.requests.find((q) => q.job === 'read' && q.mode === 'mediated')!;
  assert.is(rq.byOp.READ, 200);
  assert.is(rq.total, 202);
  assert.not.ok(r.requests.some((q) => q.mode === 'native'));
});

test('schema: a well-formed result validates; broken ones are caught', () => {
  const r = JSON.parse(JSON.stringify(synthetic()));
  assert.equal(validateResult(r), []);
  const broken = (f: (x: any) => void) => {
    const x = JSON.parse(JSON.stringify(r));
    f(x);
    return validateResult(x);
  };
  assert.ok(broken((x) => { x.schema = 'other'; }).length);
  assert.ok(broken((x) => { delete x.machine.kernel; }).some((p) => p.includes('machine.kernel')));
  assert.ok(broken((x) => { x.runs[0].mode = 'nope'; }).some((p) => p.includes('runs[0].mode')));
  assert.ok(broken((x) => { delete x.runs[0].figures['MiB/s']; }).some((p) => p.includes('MiB/s')));
  assert.ok(broken((x) => { x.runs[1].ok = false; }).some((p) => p.includes('error')));
  assert.ok(broken((x) => { x.summary[0].min = 1e12; }).some((p) => p.includes('min <= median')));
  assert.ok(broken((x) => { x.runs[0].requests = { READ: 1 }; }).some((p) => p.includes('native has no daemon')));
  assert.equal(validateResult(null), ['not an object']);
});

test('table: one row per metric, ratios and failures shown', () => {
  const t = renderTables(synthetic());
  assert.ok(t.includes('0.90x') && t.includes('0.25x'));
  assert.ok(/build \(make\).*!/.test(t), 'failed runs are flagged');
  const md = renderTables(synthetic(), 'markdown');
  assert.ok(md.includes('| job | unit | native |'));
});

test('sign test: exact two-sided binomial tail', () => {
  assert.is(signTest(0, 0), 1, 'nothing to test');
  assert.is(signTest(5, 10), 1);
  assert.ok(close(signTest(9, 10), 22 / 1024), '9 of 10: 2 x (10 + 1) / 2^10');
  assert.ok(close(signTest(1, 10), 22 / 1024), 'symmetric');
  assert.ok(close(signTest(8, 10), 112 / 1024));
  assert.ok(close(signTest(10, 10), 2 / 1024));
  const big = signTest(600, 1000);
  assert.ok(big > 0 && big < 1e-9, `finite for large n (${big})`);
});

test('median interval: the order statistics that leave at most 2.5% on each side', () => {
  const xs = (n: number) => Array.from({ length: n }, (_, i) => n - i); // unsorted on purpose: n..1
  // n = 20: P(X <= 5) = 0.0207 and P(X <= 6) = 0.0577 for X ~ Bin(20, 1/2): the 6th and 15th values.
  assert.equal(medianInterval(xs(20)), [6, 15]);
  // n = 10: P(X <= 1) = 0.0107, P(X <= 2) = 0.0547: the 2nd and 9th.
  assert.equal(medianInterval(xs(10)), [2, 9]);
  // n = 6: only the extremes qualify (1/64 each side); n = 5 has no 95% interval (1/32 > 2.5%).
  assert.equal(medianInterval(xs(6)), [1, 6]);
  assert.is(medianInterval(xs(5)), null);
  assert.equal(medianInterval([...xs(10), NaN]), [2, 9], 'failed runs left out');
  assert.equal(medianInterval(xs(10), 0.5), [4, 7], 'another level: P(X <= 3) = 0.17 <= 0.25 < P(X <= 4) = 0.38');
});

test('paired comparison: ratios per repetition, worse/better, failed runs left out, bad modes refused', () => {
  const r = synthetic();
  const rows = pairedComparison(r, 'passthrough', 'mediated');
  const row = (job: string, metric: string) => rows.find((x) => x.job === job && x.metric === metric)!;
  const read = row('read', 'MiB/s');
  assert.is(read.ratios.length, 3);
  assert.ok(read.ratios.every((x) => close(x, 0.25 / 0.9)));
  assert.is(read.worse, 3, 'less throughput is worse');
  assert.ok(close(row('many-small-files', 'total').median!, 0.9 / 0.25));
  assert.is(row('many-small-files', 'total').worse, 3, 'longer is worse');
  assert.is(row('build', 'make').ratios.length, 2, 'the failed repetition is left out');
  const back = pairedComparison(r, 'mediated', 'passthrough');
  assert.is(back.find((x) => x.job === 'read' && x.metric === 'MiB/s')!.better, 3);
  assert.throws(() => pairedComparison(r, 'passthrough', 'nope'), /mode "nope" is not among the modes \(native, passthrough, mediated\)/);
  assert.throws(() => pairedComparison(r, 'native', 'native'), /two different modes/);
  assert.is(read.ci, null, 'three repetitions are too few for a 95% interval');
  const t = renderPaired(r, 'passthrough', 'mediated');
  assert.ok(t.includes('mediated/passthrough per repetition') && t.includes('3/3') && t.includes('95% CI'));
  assert.ok(renderPaired(r, 'passthrough', 'mediated', 'markdown').includes('| job | unit | mediated/passthrough per repetition |'));
});

// ---- chart -------------------------------------------------------------------------------------

/** A small XML well-formedness check: balanced tags, quoted attributes, no stray & or <. */
function wellFormed(xml: string): string | null {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<!--[\s\S]*?-->/g;
  let last = 0;
  let roots = 0;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    const text = body.slice(last, m.index);
    if (/[<>]/.test(text)) return `stray < or > before offset ${m.index}`;
    if (/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(text + (m[3] ?? ''))) return `bad entity near offset ${m.index}`;
    last = re.lastIndex;
    if (m[0].startsWith('<!--')) continue;
    const [, closing, name, , self] = m;
    if (closing) {
      if (stack.pop() !== name) return `</${name}> does not close the open element`;
    } else if (!self) {
      if (stack.length === 0) roots++;
      stack.push(name);
    } else if (stack.length === 0) roots++;
  }
  if (body.slice(last).trim()) return 'text after the root element';
  if (stack.length) return `unclosed <${stack.at(-1)}>`;
  if (roots !== 1) return `${roots} root elements`;
  return null;
}

test('chart: well-formed standalone SVG, one bar per mode and job, a line at 1.0', () => {
  const r = synthetic();
  const svg = renderChart(r);
  assert.is(wellFormed(svg), null);
  assert.ok(svg.startsWith('<?xml') && svg.includes('xmlns="http://www.w3.org/2000/svg"'));
  assert.not.ok(/<script|href=/.test(svg), 'no scripts or external references');
  const groups = chartGroups(r);
  assert.is(groups.length, 1 + 2 + 1, 'fio job, small-files phases, build');
  const bars = [...svg.matchAll(/<rect class="bar[^"]*" data-job="([^"]+)" data-metric="([^"]+)" data-mode="([^"]+)"/g)];
  assert.is(bars.length, groups.length * 2, 'native is the 1.0 line, not a bar');
  for (const g of groups) {
    for (const m of ['passthrough', 'mediated']) {
      assert.is(bars.filter((b) => b[1] === g.job && b[2] === g.metric && b[3] === m).length, 1, `${g.label} ${m}`);
    }
  }
  assert.ok(/stroke-dasharray/.test(svg) && svg.includes('native = 1.0'));
  // Names are escaped.
  const odd = synthetic();
  odd.jobs[0].name = 'a<b&c';
  odd.summary.forEach((s) => { if (s.job === 'read') s.job = 'a<b&c'; });
  const svg2 = renderChart(odd);
  assert.is(wellFormed(svg2), null);
  assert.ok(svg2.includes('a&lt;b&amp;c'));
});

test('chart: whiskers from the worst to the best repetition, the subtitle inside the picture; one rep says so', () => {
  const r = synthetic();
  const svg = renderChart(r);
  const width = Number(/<svg [^>]*width="(\d+)"/.exec(svg)![1]);
  for (const m of svg.matchAll(/<text class="subtitle" x="(\d+)"[^>]*>([^<]*)</g)) {
    assert.ok(Number(m[1]) + m[2].length * 6.2 <= width, `subtitle fits: ${m[2]}`);
  }
  const whiskers = [...svg.matchAll(/<g class="whisker" data-job="([^"]+)" data-metric="([^"]+)" data-mode="([^"]+)" data-min="([\d.]+)" data-max="([\d.]+)"/g)];
  assert.is(whiskers.length, chartGroups(r).length * 2, 'one per bar');
  for (const w of whiskers) {
    const bar = new RegExp(`data-job="${w[1]}" data-metric="${w[2]}" data-mode="${w[3]}" data-ratio="([\\d.]+)"`).exec(svg)!;
    assert.ok(Number(w[4]) <= Number(bar[1]) + 1e-9 && Number(bar[1]) <= Number(w[5]) + 1e-9, `${w[1]} ${w[3]}: min <= ratio <= max`);
    assert.ok(Number(w[4]) < Number(w[5]), 'the synthetic reps differ');
  }
  const one = synthetic();
  one.runs = one.runs.filter((x) => x.rep === 1);
  one.parameters.reps = 1;
  one.summary = summarize(one.jobs, one.parameters.modes, one.runs);
  const svg1 = renderChart(one);
  assert.not.match(svg1, /class="whisker"/);
  assert.match(svg1, /one rep: single samples, no spread/);
  assert.match(renderTables(one), /One repetition: every figure is a single sample/);
});

test('chart: well-formed without native (no ratios)', () => {
  const r = synthetic();
  r.parameters.modes = ['passthrough', 'mediated'];
  r.summary = summarize(r.jobs, r.parameters.modes, r.runs);
  const svg = renderChart(r);
  assert.is(wellFormed(svg), null);
  assert.ok(svg.includes('no native mode'));
});

// ---- real runs: the schema of a real result, and clean-up on interrupt ---------------------------

const BENCH = ['--import', 'tsx', path.join(ROOT, 'bench/main.ts')];

function tmp(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function startBench(args: string[]): { child: ChildProcess; exit: Promise<{ code: number | null; signal: string | null; out: string }> } {
  const child = spawn(process.execPath, [...BENCH, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const exit = new Promise<{ code: number | null; signal: string | null; out: string }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, out }));
  });
  return { child, exit };
}

async function until(what: string, f: () => boolean, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Processes whose command line mentions s (the bench's fio, the daemons of its mounts). */
function processesMentioning(s: string): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(s) && Number(pid) !== process.pid) out.push(`${pid}: ${cmd}`);
    } catch { /* gone */ }
  }
  return out;
}

test('a tiny real run writes a valid result, a chart and latest copies', async () => {
  const dir = path.join(tmp('passfs-bench-run-'), 'scratch');
  const out = tmp('passfs-bench-out-');
  const { exit } = startBench([
    '--modes', 'native,passthrough', '--jobs', 'read,randwrite,many-small-files,build', '--size', '8M', '--runtime', '1',
    '--reps', '2', '--files', '150', '--build-sources', '4', '--dir', dir, '--out', out, '--paired', 'native,passthrough',
  ]);
  const r = await exit;
  assert.is(r.code, 0, r.out);
  assert.not.ok(fs.existsSync(dir), 'scratch dir removed');
  assert.equal(mountsUnder(path.dirname(dir)), []);
  const files = fs.readdirSync(out).sort();
  assert.ok(files.includes('latest.json') && files.includes('latest.svg'), files.join(' '));
  const stamped = files.filter((f) => /^\d{4}-.*Z\.json$/.test(f));
  assert.is(stamped.length, 1);
  const result = JSON.parse(fs.readFileSync(path.join(out, stamped[0]), 'utf8'));
  assert.equal(validateResult(result), []);
  assert.equal(fs.readFileSync(path.join(out, 'latest.json'), 'utf8'), fs.readFileSync(path.join(out, stamped[0]), 'utf8'));
  assert.is(result.runs.length, 2 * 4 * 2);
  assert.ok(result.runs.every((x: RunRecord) => x.ok), JSON.stringify(result.errors));
  assert.ok(result.machine.cpus >= 1 && result.machine.memoryBytes > 0 && result.machine.kernel.length > 0);
  assert.ok(result.versions.fio.startsWith('fio-'));
  // Passthrough reads never reach the daemon; the metadata jobs do.
  const pt = result.requests.find((q: { job: string; mode: string }) => q.job === 'read' && q.mode === 'passthrough');
  assert.not.ok(pt.byOp.READ, 'no READ requests in passthrough');
  const files2 = result.requests.find((q: { job: string; mode: string }) => q.job === 'many-small-files' && q.mode === 'passthrough');
  assert.ok(files2.byOp.CREATE >= 150, JSON.stringify(files2.byOp));
  // Requests per file and the daemon's CPU, per run and per request (from /proc); none for native.
  assert.is(files2.perFile, files2.total / 150);
  assert.ok(files2.daemonCpu > 0 && files2.cpuMicrosPerRequest > 0, JSON.stringify(files2));
  assert.is(pt.perFile, null, 'per file only for the files job');
  assert.ok(result.runs.filter((x: RunRecord) => x.mode === 'native').every((x: RunRecord) => x.daemonCpu === undefined || x.daemonCpu === null));
  assert.match(r.out, /\d+\.\d\/file/);
  assert.match(r.out, /daemon CPU \d+\.\d\d s/);
  const svg = fs.readFileSync(path.join(out, 'latest.svg'), 'utf8');
  assert.is(wellFormed(svg), null);
  // read, randwrite, 8 small-files figures, build: one passthrough bar each.
  assert.is([...svg.matchAll(/<rect class="bar/g)].length, 2 + 8 + 1);
  assert.ok(r.out.includes('passthrough /native'), 'table printed');
  assert.ok(/many-small-files: total .* \d\/2 /.test(r.out) && r.out.includes('passthrough/native per repetition'), 'paired table printed');
  fs.rmSync(out, { recursive: true, force: true });
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
});

test('results go outside the repository unless --out says otherwise (bench/results holds the committed figures)', async () => {
  const r = await startBench(['--help']).exit;
  assert.is(r.code, 0, r.out);
  const def = /--out <dir>[\s\S]*?\(default:\s+"([^"]+)"\)/.exec(r.out)?.[1];
  assert.ok(def, r.out);
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  assert.not.ok(path.resolve(def!).startsWith(repo + '/'), `default ${def} is outside ${repo}`);
});

test('--paired: bad pairs are refused with a clear error, before a run mounts anything', async () => {
  const dir = tmp('passfs-bench-paired-');
  const file = path.join(dir, 'r.json');
  fs.writeFileSync(file, JSON.stringify(synthetic()));
  const ok = await startBench(['--report', file, '--paired', 'passthrough,mediated']).exit;
  assert.is(ok.code, 0, ok.out);
  assert.ok(ok.out.includes('mediated/passthrough per repetition'), ok.out);
  for (const [args, msg] of [
    [['--report', file, '--paired', 'passthrough,nope'], /--paired: mode "nope" is not among the modes/],
    [['--report', file, '--paired', 'passthrough'], /expected two modes/],
    [['--modes', 'native,passthrough', '--jobs', 'read', '--dir', path.join(dir, 'scratch'), '--paired', 'native,policy'], /--paired: mode "policy" is not among the modes \(native, passthrough\)/],
    [['--modes', 'native,passthrough', '--jobs', 'read', '--dir', path.join(dir, 'scratch'), '--paired', 'native,native'], /two different modes/],
  ] as [string[], RegExp][]) {
    const r = await startBench(args).exit;
    assert.is(r.code, 1, `${args.join(' ')}: ${r.out}`);
    assert.ok(msg.test(r.out), `${args.join(' ')}: ${r.out}`);
  }
  assert.not.ok(fs.existsSync(path.join(dir, 'scratch')), 'nothing was set up');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('SIGINT after the first mount: everything unmounted, scratch dir gone, non-zero exit', async () => {
  const dir = path.join(tmp('passfs-bench-int-'), 'scratch');
  const out = tmp('passfs-bench-out-');
  const { child, exit } = startBench([
    '--modes', 'native,passthrough,mediated', '--jobs', 'read,randread', '--size', '64M', '--runtime', '5', '--reps', '1',
    '--dir', dir, '--out', out,
  ]);
  try {
    await until('the first mount', () => fs.existsSync(dir) && mountsUnder(dir).length > 0);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${(e as Error).message}: ${(await exit).out}`);
  }
  child.kill('SIGINT');
  const r = await exit;
  assert.ok(r.code !== 0 && r.code !== null, `exit ${r.code} ${r.signal}`);
  assert.equal(mountsUnder(path.dirname(dir)), [], 'nothing mounted');
  assert.not.ok(fs.existsSync(dir), 'scratch dir removed');
  await until('the daemons to exit', () => processesMentioning(dir).length === 0, 10_000).catch(() => {});
  assert.equal(processesMentioning(dir), [], 'no daemon or fio left');
  assert.equal(fs.readdirSync(out), [], 'no half-written results');
  fs.rmSync(out, { recursive: true, force: true });
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
});

test('SIGTERM while fio runs on a mount: fio stopped, mount taken down, scratch dir gone', async () => {
  const dir = path.join(tmp('passfs-bench-term-'), 'scratch');
  const out = tmp('passfs-bench-out-');
  const { child, exit } = startBench([
    '--modes', 'passthrough', '--jobs', 'randread', '--size', '64M', '--runtime', '60', '--reps', '1', '--dir', dir, '--out', out,
  ]);
  const fioOnMount = () => processesMentioning(path.join(dir, 'mnt')).some((p) => /\bfio\b/.test(p) && p.includes('--filename='));
  try {
    await until('fio running through the mount', fioOnMount);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${(e as Error).message}: ${(await exit).out}`);
  }
  child.kill('SIGTERM');
  const r = await exit;
  assert.ok(r.code !== 0 && r.code !== null, `exit ${r.code} ${r.signal}`);
  assert.equal(mountsUnder(path.dirname(dir)), []);
  assert.not.ok(fs.existsSync(dir));
  await until('fio and the daemon to exit', () => processesMentioning(dir).length === 0, 10_000).catch(() => {});
  assert.equal(processesMentioning(dir), []);
  fs.rmSync(out, { recursive: true, force: true });
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
});

async function expectOneLineFailure(args: string[], env: NodeJS.ProcessEnv, pattern: RegExp): Promise<void> {
  const dir = path.join(tmp('passfs-bench-fail-'), 'scratch');
  const out = tmp('passfs-bench-out-');
  const child = spawn(process.execPath, [...BENCH, '--jobs', 'read', '--size', '8M', '--reps', '1', '--dir', dir, '--out', out, ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let text = '';
  child.stdout!.on('data', (d) => { text += d; });
  child.stderr!.on('data', (d) => { text += d; });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.is(code, 1, text);
  const lines = text.trim().split('\n').filter((l) => !/^\[|^laying out|^mounting/.test(l));
  assert.is(lines.length, 1, text);
  assert.match(lines[0], pattern);
  assert.not.ok(fs.existsSync(dir), 'scratch dir removed');
  assert.equal(mountsUnder(path.dirname(dir)), []);
  assert.equal(fs.readdirSync(out), []);
  fs.rmSync(out, { recursive: true, force: true });
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
}

test('a mount failure is one clear line and leaves nothing behind', async () => {
  await expectOneLineFailure(['--modes', 'native,passthrough', '--passfs', path.join(FIX, 'failing-passfs.js')], {},
    /^bench: passfs mount --io passthrough .* at .*mnt\/passthrough failed: mount point \/somewhere is already mounted$/);
});

test('a missing passfs command or fio is one clear line', async () => {
  await expectOneLineFailure(['--modes', 'native,passthrough', '--passfs', path.join(FIX, 'no-such-passfs.js')], {},
    /^bench: passfs command .*no-such-passfs\.js not found$/);
  await expectOneLineFailure(['--modes', 'native'], { PATH: '/nonexistent' }, /^bench: fio not found or not working \(.*\)$/);
});

test.run();
