// The fio data jobs: their parameters, the fio command line, and the figures
// taken from fio's JSON output.

export interface FioJobSpec {
  name: string;
  rw: 'read' | 'write' | 'randread' | 'randwrite';
  ioengine: 'sync' | 'libaio' | 'io_uring';
  /** Sequential jobs make one pass over the file; random ones run for --runtime seconds. */
  timeBased: boolean;
  direct: boolean;
  iodepth: number;
  fsyncOnClose: boolean;
}

/** The seed's four 4 KiB sync jobs, then the asynchronous direct-I/O ones. */
export const FIO_JOBS: readonly FioJobSpec[] = [
  { name: 'read', rw: 'read', ioengine: 'sync', timeBased: false, direct: false, iodepth: 1, fsyncOnClose: true },
  { name: 'randread', rw: 'randread', ioengine: 'sync', timeBased: true, direct: false, iodepth: 1, fsyncOnClose: true },
  { name: 'write', rw: 'write', ioengine: 'sync', timeBased: false, direct: false, iodepth: 1, fsyncOnClose: true },
  { name: 'randwrite', rw: 'randwrite', ioengine: 'sync', timeBased: true, direct: false, iodepth: 1, fsyncOnClose: true },
  ...(['libaio', 'io_uring'] as const).flatMap((e) =>
    (['randread', 'randwrite'] as const).map((rw) => ({
      name: `${e}-${rw}`, rw, ioengine: e, timeBased: true, direct: true, iodepth: 32, fsyncOnClose: false,
    })),
  ),
];

export const BLOCK_SIZE = 4096;

/** fio's arguments for one run of a job on one file. */
export function fioArgs(job: FioJobSpec, file: string, sizeBytes: number, runtimeSeconds: number): string[] {
  const a = [
    `--name=${job.name}`,
    `--filename=${file}`,
    `--size=${sizeBytes}`,
    `--rw=${job.rw}`,
    `--bs=${BLOCK_SIZE}`,
    `--ioengine=${job.ioengine}`,
    `--iodepth=${job.iodepth}`,
    `--direct=${job.direct ? 1 : 0}`,
    `--fsync_on_close=${job.fsyncOnClose ? 1 : 0}`,
    '--randseed=0',
    '--numjobs=1',
    '--output-format=json',
  ];
  if (job.timeBased) a.push('--time_based=1', `--runtime=${runtimeSeconds}`);
  return a;
}

/** The arguments that lay the shared file out once (natively, real blocks, not sparse). */
export function layoutArgs(file: string, sizeBytes: number): string[] {
  return [`--name=layout`, `--filename=${file}`, `--size=${sizeBytes}`, '--rw=write', '--bs=1M', '--ioengine=sync',
    '--end_fsync=1', '--output-format=json'];
}

/**
 * The untimed warm-up before each buffered (page-cache) job: one buffered
 * read of the whole data file in 1 MiB blocks, natively, followed by the usual
 * cache drop. This VM returns free memory to its host (free page reporting),
 * and page-cache pages taken from memory the host has reclaimed cost several
 * times more: measured, the first 2 GiB buffered read after some idle seconds
 * ran at 0.8-1.8 GiB/s, one right after a read-and-drop at 1.5-2 GiB/s. Without
 * the warm-up, whichever mode ran first after another job paid for it. The
 * warm-up leaves the guest cache empty (dropped) but its memory host-backed,
 * the same for every mode.
 */
export function warmArgs(file: string, sizeBytes: number): string[] {
  return [`--name=warm`, `--filename=${file}`, `--size=${sizeBytes}`, '--rw=read', '--bs=1M', '--ioengine=psync', '--output-format=json'];
}

export interface FioFigures {
  /** MiB/s of the job's direction (read or write). */
  mibps: number;
  iops: number;
  /** Bytes moved and the time fio counted (ms; includes the fsync on close). */
  ioBytes: number;
  runtimeMs: number;
  /** Completion latency, microseconds. */
  clatMeanUs: number;
  clatP50Us: number | null;
  clatP99Us: number | null;
  /** fio's own error code (0 = none). */
  error: number;
}

interface FioDir {
  io_bytes: number;
  bw_bytes: number;
  iops: number;
  runtime: number;
  clat_ns?: { mean: number; percentile?: Record<string, number> };
}

/**
 * Parse fio's --output-format=json output (fio may print notes before the
 * JSON) and take the figures of its first job in the given direction.
 */
export function parseFioOutput(text: string, direction: 'read' | 'write'): FioFigures {
  const start = text.search(/^\{/m);
  if (start < 0) throw new Error('no JSON in fio output');
  let doc: { jobs?: Array<Record<string, unknown>> };
  try {
    doc = JSON.parse(text.slice(start));
  } catch (e) {
    throw new Error(`unreadable fio JSON: ${(e as Error).message}`);
  }
  const job = doc.jobs?.[0];
  if (!job) throw new Error('fio JSON has no jobs');
  const d = job[direction] as FioDir | undefined;
  if (!d || typeof d.bw_bytes !== 'number') throw new Error(`fio JSON has no ${direction} figures`);
  const pct = d.clat_ns?.percentile ?? {};
  const p = (k: string) => (typeof pct[k] === 'number' ? pct[k] / 1000 : null);
  return {
    mibps: d.bw_bytes / (1 << 20),
    iops: d.iops,
    ioBytes: d.io_bytes,
    runtimeMs: d.runtime,
    clatMeanUs: (d.clat_ns?.mean ?? NaN) / 1000,
    clatP50Us: p('50.000000'),
    clatP99Us: p('99.000000'),
    error: typeof job.error === 'number' ? job.error : 0,
  };
}

export function directionOf(job: FioJobSpec): 'read' | 'write' {
  return job.rw === 'read' || job.rw === 'randread' ? 'read' : 'write';
}

/** The last "fio: ..." error line of fio's stderr, for a one-line report. */
export function fioErrorLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim().replace(/^fio:\s*/, '')).filter(Boolean);
  const errs = lines.filter((l) => /error|invalid|failed|cannot|denied/i.test(l));
  const n = errs.length;
  if (n === 0) return lines.at(-1) ?? '';
  return n > 1 ? `${errs[0]} (and ${n - 1} more)` : errs[0];
}
