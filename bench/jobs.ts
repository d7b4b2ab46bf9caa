// Every job of the bench, as one list: the fio data jobs, then the metadata
// jobs. A job runs in a directory (the lower directory for native, the mount
// for the others) and returns its figures; set-up and clean-up that must not
// be timed happen natively on the lower directory.
import fs from 'node:fs';
import path from 'node:path';
import { FIO_JOBS, FioJobSpec, directionOf, fioArgs, fioErrorLine, parseFioOutput } from './fio.js';
import { generateCProject } from './cproject.js';
import { run } from './proc.js';
import { METRICS as FILE_METRICS, runSmallFiles } from './smallfiles.js';
import { makeScaleTree, runScale } from './scale.js';

export type Unit = 'MiB/s' | 'IOPS' | 's';

export interface Metric {
  key: string;
  unit: Unit;
  higherIsBetter: boolean;
}

export interface JobContext {
  /** Where the job runs: the lower directory (native) or the mount point. */
  where: string;
  /** The lower directory, for untimed native set-up and clean-up. */
  lower: string;
  /** Name of the shared data file (the same lower file for every mode). */
  dataFile: string;
  sizeBytes: number;
  runtime: number;
  files: number;
  buildSources: number;
  /** Files the scale job stats, and how many of them it holds open at once. */
  scaleFiles: number;
  scaleOpen: number;
  cpus: number;
  /** Unique per run: names the job's own directory. */
  tag: string;
}

export interface Job {
  name: string;
  kind: 'fio' | 'files' | 'build';
  description: string;
  /** Run only when named in --jobs (long: not part of the default list). */
  optIn?: boolean;
  metrics: Metric[];
  /** fio arguments (for the record), with FILE standing for the data file. */
  fio?: FioJobSpec;
  /** Before each run: an untimed buffered read of the data file, then the cache drop (see warmArgs). */
  warm?: boolean;
  prepare?(c: JobContext): void;
  run(c: JobContext): Promise<Record<string, number>>;
  cleanup?(c: JobContext): void;
}

function fioJob(spec: FioJobSpec): Job {
  return {
    name: spec.name,
    kind: 'fio',
    description: `fio ${spec.rw} 4 KiB, ${spec.ioengine}${spec.direct ? `, direct, iodepth ${spec.iodepth}` : ''}${spec.fsyncOnClose ? ', fsync on close' : ''}, ${spec.timeBased ? 'time-based' : 'one pass'}`,
    metrics: [
      { key: 'MiB/s', unit: 'MiB/s', higherIsBetter: true },
      { key: 'IOPS', unit: 'IOPS', higherIsBetter: true },
    ],
    fio: spec,
    warm: !spec.direct,
    async run(c) {
      const r = await run('fio', fioArgs(spec, path.join(c.where, c.dataFile), c.sizeBytes, c.runtime));
      if (r.code !== 0) throw new Error(`fio: ${fioErrorLine(r.stderr) || `exit ${r.code ?? r.signal}`}`);
      const f = parseFioOutput(r.stdout, directionOf(spec));
      if (f.error) throw new Error(`fio error ${f.error}: ${fioErrorLine(r.stderr)}`);
      const out: Record<string, number> = {
        'MiB/s': f.mibps, IOPS: f.iops, ioBytes: f.ioBytes, runtimeMs: f.runtimeMs, clatMeanUs: f.clatMeanUs,
      };
      if (f.clatP50Us !== null) out.clatP50Us = f.clatP50Us;
      if (f.clatP99Us !== null) out.clatP99Us = f.clatP99Us;
      return out;
    },
  };
}

const removeTag = (c: JobContext) => fs.rmSync(path.join(c.lower, c.tag), { recursive: true, force: true });

export const JOBS: readonly Job[] = [
  ...FIO_JOBS.map(fioJob),
  {
    name: 'many-small-files',
    kind: 'files',
    description: 'create N small files in a tree, stat, read, rename them all, find, grep -r, unlink all (seconds per phase)',
    metrics: FILE_METRICS.map((key) => ({ key, unit: 's' as const, higherIsBetter: false })),
    run: (c) => runSmallFiles(path.join(c.where, c.tag), c.files),
    cleanup: removeTag,
  },
  {
    name: 'build',
    kind: 'build',
    description: 'clean build of a generated C project with make -j<cpus> (seconds)',
    metrics: [{ key: 'make', unit: 's', higherIsBetter: false }],
    prepare: (c) => { generateCProject(path.join(c.lower, c.tag), c.buildSources); },
    async run(c) {
      const dir = path.join(c.where, c.tag);
      const r = await run('make', ['-s', `-j${c.cpus}`], { cwd: dir, ignoreStdout: true });
      if (r.code !== 0) throw new Error(`make: ${r.stderr.trim().split('\n').at(-1) ?? `exit ${r.code ?? r.signal}`}`);
      if (!fs.existsSync(path.join(dir, 'app'))) throw new Error('make left no program');
      return { make: r.seconds };
    },
    cleanup: removeTag,
  },
  {
    name: 'scale',
    kind: 'files',
    optIn: true,
    description: 'stat N files one by one (the kernel keeps them all), then hold M of them open at once from several processes (seconds; a count short of N or M fails the run with the first error)',
    metrics: [{ key: 'stat', unit: 's', higherIsBetter: false }, { key: 'open', unit: 's', higherIsBetter: false }],
    prepare: (c) => makeScaleTree(path.join(c.lower, c.tag), c.scaleFiles),
    run: (c) => runScale(path.join(c.where, c.tag), c.scaleFiles, c.scaleOpen),
    cleanup: removeTag,
  },
];

export const JOB_NAMES = JOBS.map((j) => j.name);
/** The jobs run when --jobs is not given. */
export const DEFAULT_JOBS = JOBS.filter((j) => !j.optIn).map((j) => j.name);

export function resolveJobs(names: string[]): Job[] {
  const out: Job[] = [];
  for (const n of names) {
    const j = JOBS.find((x) => x.name === n);
    if (!j) throw new Error(`unknown job "${n}" (known: ${JOB_NAMES.join(', ')})`);
    if (!out.includes(j)) out.push(j);
  }
  if (out.length === 0) throw new Error('no jobs given');
  // Keep the canonical order whatever order they were given in.
  return JOBS.filter((j) => out.includes(j));
}
