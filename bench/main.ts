// passfs bench: fio data jobs and metadata jobs, natively and through passfs
// mounts of the same lower directory, interleaved run by run (for rep, for
// job, for mode). See bench/README.md.
//   npm run bench                 full run (~10 min)
//   npm run bench -- --quick      ~2 min
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_MODES, MODES, Mode, resolveModes } from './modes.js';
import { DEFAULT_JOBS, JOBS, Job, JobContext, resolveJobs } from './jobs.js';
import { fioArgs, layoutArgs, fioErrorLine, warmArgs } from './fio.js';
import { getPassfsBin, mount, requestDiff, setPassfsBin, status, umount, umountAllSync, REPO, DaemonStatus } from './mounts.js';
import { killChildren, run } from './proc.js';
import { Progress, clock } from './progress.js';
import { BenchResult, checkPair, JobRecord, ModeRecord, RunRecord, SCHEMA, summarize, summarizeRequests, validateResult, writeResults } from './results.js';
import { prepareScratch, removeScratch, Scratch } from './scratch.js';
import { BenchError, dropCaches, formatBytes, machine, parseSize, processCpuSeconds, requireRoot, requireTool, versions } from './system.js';
import { renderChart } from './chart.js';
import { renderPaired, renderTables } from './table.js';

interface Options {
  quick?: boolean;
  modes?: string;
  jobs?: string;
  size?: string;
  runtime?: number;
  reps?: number;
  files?: number;
  buildSources?: number;
  scaleFiles?: number;
  scaleOpen?: number;
  dir: string;
  out: string;
  passfs?: string;
  report?: string;
  markdown?: boolean;
  list?: boolean;
  paired?: [string, string];
}

/** Defaults of a full run and of --quick; any option given explicitly wins. */
const PRESETS = {
  full: { size: '2G', runtime: 3, reps: 3, files: 10000, buildSources: 150, scaleFiles: 1_000_000, scaleOpen: 100_000 },
  quick: { size: '512M', runtime: 2, reps: 1, files: 3000, buildSources: 40, scaleFiles: 100_000, scaleOpen: 30_000 },
};

const DATA_FILE = 'file';
const URING_SWITCH = '/sys/module/fuse/parameters/enable_uring';

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

// ---- clean-up on the way out, whatever the way ------------------------------------------------

let progress = new Progress(1);
let uringBefore: string | null = null;
let aborting = false;
/** Once a signal is being handled, the run waits here for the handler to clean up and exit. */
const halt = () => new Promise<never>(() => {});

function cleanupSync(): string[] {
  const problems = umountAllSync();
  if (uringBefore !== null) {
    try { fs.writeFileSync(URING_SWITCH, uringBefore); } catch { /* best effort */ }
    uringBefore = null;
  }
  problems.push(...removeScratch());
  return problems;
}

function installSignalHandlers(): void {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (aborting) return;
      aborting = true;
      progress.note(`bench: ${sig}: stopping; unmounting and removing scratch files`);
      void killChildren().then(() => {
        for (const p of cleanupSync()) process.stderr.write(`bench: ${p}\n`);
        process.exit(sig === 'SIGINT' ? 130 : sig === 'SIGTERM' ? 143 : 129);
      });
    });
  }
}

// ---- the run ----------------------------------------------------------------------------------

async function daemonInfo(mnt: string): Promise<ModeRecord['daemon']> {
  const s: DaemonStatus = await status(mnt);
  return { io: s.io, transport: s.transport, mediatedEngine: s.mediatedEngine, workers: s.workers?.count, passthrough: s.capabilities?.passthrough };
}

async function layOut(file: string, sizeBytes: number): Promise<void> {
  const r = await run('fio', layoutArgs(file, sizeBytes));
  if (r.code !== 0) throw new BenchError(`laying out ${file}: ${fioErrorLine(r.stderr) || `fio exit ${r.code ?? r.signal}`}`);
  if (fs.statSync(file).size !== sizeBytes) throw new BenchError(`laying out ${file}: wrong size`);
}

async function bench(o: Options): Promise<number> {
  const preset = o.quick ? PRESETS.quick : PRESETS.full;
  const sizeArg = o.size ?? preset.size;
  const sizeBytes = parseSize(sizeArg);
  const runtime = o.runtime ?? preset.runtime;
  const reps = o.reps ?? preset.reps;
  const files = o.files ?? preset.files;
  const buildSources = o.buildSources ?? preset.buildSources;
  const scaleFiles = o.scaleFiles ?? preset.scaleFiles;
  const scaleOpen = Math.min(o.scaleOpen ?? preset.scaleOpen, scaleFiles);
  let modes: Mode[];
  let jobs: Job[];
  try {
    modes = resolveModes(o.modes ? list(o.modes) : DEFAULT_MODES);
    jobs = resolveJobs(o.jobs ? list(o.jobs) : DEFAULT_JOBS);
  } catch (e) {
    throw new BenchError((e as Error).message);
  }
  // Checked before anything is mounted: a typo must not cost a whole run.
  if (o.paired) checkPaired(modes.map((m) => m.name), o.paired);
  if (o.passfs) setPassfsBin(o.passfs);

  requireRoot();
  const fio = requireTool('fio', ['--version'], 'run scripts/setup.sh or apt-get install fio');
  if (jobs.some((j) => j.kind === 'build')) {
    requireTool('make', ['--version'], 'apt-get install make');
    requireTool('cc', ['--version'], 'apt-get install gcc');
  }
  if (jobs.some((j) => j.kind === 'files')) {
    requireTool('find', ['--version'], 'apt-get install findutils');
    requireTool('grep', ['--version'], 'apt-get install grep');
  }
  if (modes.some((m) => m.mount) && !fs.existsSync(getPassfsBin())) throw new BenchError(`passfs command ${getPassfsBin()} not found`);
  if (modes.some((m) => m.mount) && getPassfsBin() === path.join(REPO, 'bin/passfs.js') && !fs.existsSync(path.join(REPO, 'dist/cli/main.js'))) {
    throw new BenchError('passfs is not built: run scripts/setup.sh');
  }

  installSignalHandlers();
  const startedAt = new Date();
  const scratch: Scratch = prepareScratch(o.dir);
  const total = reps * jobs.length * modes.length;
  progress = new Progress(total);
  const errors: string[] = [];
  const runs: RunRecord[] = [];
  const modeRecords: ModeRecord[] = modes.map((m) => ({ name: m.name, mount: m.mount, description: m.description, daemon: null }));

  progress.write(`laying out the ${formatBytes(sizeBytes)} data file in ${scratch.lower}`);
  const lowerFile = path.join(scratch.lower, DATA_FILE);
  await layOut(lowerFile, sizeBytes);

  if (modes.some((m) => m.uring)) {
    try {
      const before = fs.readFileSync(URING_SWITCH, 'utf8').trim();
      if (before !== 'Y') {
        fs.writeFileSync(URING_SWITCH, 'Y');
        uringBefore = before;
      }
    } catch (e) {
      throw new BenchError(`cannot switch FUSE-over-io_uring on (${URING_SWITCH}): ${(e as Error).message}`);
    }
  }

  for (const [i, m] of modes.entries()) {
    if (aborting) return halt();
    if (!m.mount) continue;
    progress.write(`mounting ${m.name}: passfs mount ${m.mount.join(' ')}`);
    await mount(scratch.lower, scratch.mnt(m.name), m.mount);
    modeRecords[i].daemon = await daemonInfo(scratch.mnt(m.name));
  }

  const cpus = machine(scratch.dir).cpus;
  let step = 0;
  for (let rep = 1; rep <= reps; rep++) {
    // The mode order turns by one each repetition, so that no mode is always
    // the first (or last) to touch the shared file after another job.
    const order = modes.map((_, i) => modes[(i + rep - 1) % modes.length]);
    for (const job of jobs) {
      for (const m of order) {
        if (aborting) return halt();
        progress.update(step++, `rep ${rep}/${reps} · ${job.name} · ${m.name}`);
        const where = m.mount ? scratch.mnt(m.name) : scratch.lower;
        const ctx: JobContext = {
          where, lower: scratch.lower, dataFile: DATA_FILE, sizeBytes, runtime, files, buildSources, scaleFiles, scaleOpen,
          cpus, tag: `${job.name}-${m.name}-${rep}`,
        };
        const rec: RunRecord = { rep, job: job.name, mode: m.name, startedAt: new Date().toISOString(), seconds: 0, ok: false, figures: {}, requests: null };
        try {
          job.prepare?.(ctx);
          if (job.warm) {
            const w = await run('fio', warmArgs(lowerFile, sizeBytes));
            if (w.code !== 0) throw new Error(`warm-up read of ${lowerFile}: ${fioErrorLine(w.stderr) || `fio exit ${w.code ?? w.signal}`}`);
          }
          dropCaches();
          const s0 = m.mount ? await status(where) : null;
          const cpu0 = s0 ? processCpuSeconds(s0.pid) : null;
          const t0 = process.hrtime.bigint();
          rec.figures = await job.run(ctx);
          rec.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
          if (s0) {
            const s1 = await status(where);
            rec.requests = requestDiff(s0.requests, s1.requests);
            const cpu1 = processCpuSeconds(s0.pid);
            rec.daemonCpu = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
          }
          rec.ok = true;
        } catch (e) {
          if (aborting) return halt();
          rec.error = (e as Error).message.split('\n')[0];
          errors.push(`rep ${rep} ${job.name} ${m.name}: ${rec.error}`);
          progress.note(`bench: ${job.name} on ${m.name} failed: ${rec.error}`);
        } finally {
          job.cleanup?.(ctx);
        }
        runs.push(rec);
        // Write jobs overwrite the shared file in place; it must stay whole for the next ones.
        if (fs.statSync(lowerFile).size !== sizeBytes) throw new BenchError(`${job.name} on ${m.name} changed the size of ${lowerFile}`);
      }
    }
  }

  progress.write('unmounting');
  for (const m of modes) if (m.mount) await umount(scratch.mnt(m.name));
  for (const p of cleanupSync()) errors.push(p);
  progress.clear();

  const finishedAt = new Date();
  const jobRecords: JobRecord[] = jobs.map((j) => ({
    name: j.name, kind: j.kind, description: j.description, metrics: j.metrics,
    ...(j.fio ? { fioArgs: fioArgs(j.fio, 'FILE', sizeBytes, runtime) } : {}),
  }));
  const modeNames = modes.map((m) => m.name);
  const result: BenchResult = {
    schema: SCHEMA,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    machine: machine(path.dirname(scratch.dir)),
    versions: versions(path.resolve(path.dirname(getPassfsBin()), '..'), fio),
    parameters: {
      modes: modeNames, jobs: jobs.map((j) => j.name), size: sizeArg, sizeBytes, runtime, reps, quick: !!o.quick,
      files, buildSources, scaleFiles, scaleOpen, dir: scratch.dir, passfs: getPassfsBin(),
    },
    modes: modeRecords,
    jobs: jobRecords,
    runs,
    summary: summarize(jobRecords, modeNames, runs),
    requests: summarizeRequests(jobRecords, modeNames, runs, { 'many-small-files': files, scale: scaleFiles }),
    errors,
  };
  const problems = validateResult(JSON.parse(JSON.stringify(result)));
  if (problems.length) throw new BenchError(`internal: result does not match its schema: ${problems[0]}`);
  const written = writeResults(path.resolve(o.out), result, renderChart(result));
  process.stdout.write(`${renderTables(result)}\n\n`);
  if (o.paired) process.stdout.write(`${renderPaired(result, o.paired[0], o.paired[1])}\n\n`);
  if (result.parameters.reps === 1) process.stdout.write('One repetition: each figure is a single sample, with no spread to judge it by; use --reps 3 or more before drawing conclusions.\n\n');
  process.stdout.write(`${clock(result.durationSeconds)} · results ${path.relative(process.cwd(), written.json) || written.json} · chart ${path.relative(process.cwd(), written.svg) || written.svg} (copied to latest.json, latest.svg)\n`);
  if (errors.length) {
    process.stderr.write(`bench: ${errors.length} run${errors.length > 1 ? 's' : ''} failed (see above and "errors" in the JSON)\n`);
    return 1;
  }
  return 0;
}

function report(file: string, markdown: boolean, paired?: [string, string]): number {
  const r = JSON.parse(fs.readFileSync(file, 'utf8'));
  const problems = validateResult(r);
  if (problems.length) throw new BenchError(`${file} is not a bench result: ${problems[0]}`);
  const format = markdown ? 'markdown' : 'text';
  let out = renderTables(r as BenchResult, format) + '\n';
  if (paired) {
    checkPaired(r.parameters.modes, paired);
    out += `\n${renderPaired(r as BenchResult, paired[0], paired[1], format)}\n`;
  }
  process.stdout.write(out);
  return 0;
}

/** checkPair for the --paired option: a BenchError naming the option. */
function checkPaired(modes: readonly string[], [a, b]: [string, string]): void {
  try {
    checkPair(modes, a, b);
  } catch (e) {
    throw new BenchError(`--paired: ${(e as Error).message}`);
  }
}

/** "--paired A,B": two mode names. */
function modePair(v: string): [string, string] {
  const names = list(v);
  if (names.length !== 2) throw new InvalidArgumentError('expected two modes, A,B (B is compared against A)');
  return [names[0], names[1]];
}

function listAll(): number {
  process.stdout.write('modes (default: ' + DEFAULT_MODES.join(',') + '):\n');
  for (const m of MODES) process.stdout.write(`  ${m.name.padEnd(20)} ${m.mount ? `passfs mount ${m.mount.join(' ')}` : '(no mount)'}  - ${m.description}\n`);
  process.stdout.write('jobs (default: all but those marked opt-in):\n');
  for (const j of JOBS) process.stdout.write(`  ${j.name.padEnd(20)} ${j.optIn ? '(opt-in) ' : ''}${j.description}\n`);
  return 0;
}

/** Where results go unless --out says otherwise: not the repository, whose bench/results holds the committed figures. */
const DEFAULT_OUT = '/var/tmp/passfs-bench-results';

const program = new Command('bench')
  .description('passfs benchmarks: fio data jobs and metadata jobs, native vs passfs modes, ratios to native')
  .option('--quick', `short run (~2 min): ${JSON.stringify(PRESETS.quick)}`)
  .option('--modes <list>', `comma list of modes (default ${DEFAULT_MODES.join(',')}; see --list)`)
  .option('--jobs <list>', `comma list of jobs (default: all but ${JOBS.filter((j) => j.optIn).map((j) => j.name).join(', ')}; see --list)`)
  .option('--size <size>', `data file size (default ${PRESETS.full.size}, --quick ${PRESETS.quick.size})`)
  .option('--runtime <s>', `seconds per random/AIO fio job (default ${PRESETS.full.runtime}, --quick ${PRESETS.quick.runtime})`, positiveInt('--runtime'))
  .option('--reps <n>', `repetitions (default ${PRESETS.full.reps}, --quick ${PRESETS.quick.reps})`, positiveInt('--reps'))
  .option('--files <n>', `files of the many-small-files job (default ${PRESETS.full.files}, --quick ${PRESETS.quick.files})`, positiveInt('--files'))
  .option('--scale-files <n>', `files the scale job stats (default ${PRESETS.full.scaleFiles}, --quick ${PRESETS.quick.scaleFiles})`, positiveInt('--scale-files'))
  .option('--scale-open <n>', `files the scale job holds open at once (default ${PRESETS.full.scaleOpen}, --quick ${PRESETS.quick.scaleOpen})`, positiveInt('--scale-open'))
  .option('--build-sources <n>', `.c files of the build job (default ${PRESETS.full.buildSources}, --quick ${PRESETS.quick.buildSources})`, positiveInt('--build-sources'))
  .option('--dir <dir>', 'scratch directory (created and removed by the bench)', '/var/tmp/passfs-bench')
  .option('--out <dir>', 'results directory (outside the repository unless told: bench/results holds the committed figures)', DEFAULT_OUT)
  .option('--passfs <path>', 'passfs command to mount with (default: bin/passfs.js of this repository)')
  .option('--report <json>', 'print the tables of an earlier result file instead of running')
  .option('--markdown', 'with --report: Markdown tables')
  .option('--paired <a,b>', 'also compare mode b against mode a repetition by repetition (ratios, median, sign test)', modePair)
  .option('--list', 'list the modes and jobs')
  .showHelpAfterError();

program.parse(process.argv);
const opts = program.opts<Options>();

const main = opts.list ? Promise.resolve(listAll()) : opts.report ? Promise.resolve().then(() => report(opts.report!, !!opts.markdown, opts.paired)) : bench(opts);
main.then(
  (code) => process.exit(code),
  (e: Error) => {
    if (aborting) return; // the signal handler cleans up and exits
    progress.clear();
    const problems = cleanupSync();
    const msg = e instanceof BenchError ? e.message : (e.stack ?? String(e));
    process.stderr.write(`bench: ${msg}\n`);
    for (const p of problems) process.stderr.write(`bench: ${p}\n`);
    process.exit(1);
  },
);
