// The machine: preconditions, dropping caches, and what the results record
// about the machine and the tools.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { capture } from './proc.js';

export class BenchError extends Error {}

export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new BenchError('must run as root (mounts, dropping caches)');
}

/** Fail with one line if a tool is missing. */
export function requireTool(tool: string, versionArgs: string[], hint: string): string {
  const out = capture(tool, versionArgs);
  if (out === null) throw new BenchError(`${tool} not found or not working (${hint})`);
  return out.split('\n')[0].trim();
}

/** Write dirty data back, then drop the page, dentry and inode caches. */
export function dropCaches(): void {
  capture('sync', []);
  fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryBytes: number;
  kernel: string;
  /** File system type of the scratch directory (the lower fs of every mode). */
  scratchFs: string;
}

export function machine(dir: string): Machine {
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryBytes: os.totalmem(),
    kernel: (capture('uname', ['-r']) ?? os.release()).trim(),
    scratchFs: (capture('stat', ['-f', '-c', '%T', dir]) ?? 'unknown').trim(),
  };
}

export interface Versions {
  node: string;
  fio: string;
  passfs: string;
  gcc: string | null;
}

export function versions(repo: string, fio: string): Versions {
  let passfs = 'unknown';
  try {
    passfs = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')).version;
  } catch { /* keep unknown */ }
  const commit = capture('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'])?.trim();
  const dirty = capture('git', ['-C', repo, 'status', '--porcelain', '--', 'src', 'addon'])?.trim();
  if (commit) passfs += ` (${commit}${dirty ? ', modified' : ''})`;
  return {
    node: process.version,
    fio,
    passfs,
    gcc: capture('gcc', ['-dumpfullversion'])?.trim() ?? null,
  };
}

/** Mount points at or below dir, deepest first (from /proc/self/mountinfo). */
export function mountsUnder(dir: string): string[] {
  const base = path.resolve(dir);
  const out: string[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const mp = f[4].replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
    if (mp === base || mp.startsWith(base + '/')) out.push(mp);
  }
  return out.sort((a, b) => b.length - a.length);
}

/** "2G", "512M", "64k", "1048576" -> bytes. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(s.trim());
  if (!m) throw new BenchError(`bad size "${s}" (e.g. 2G, 512M)`);
  const mult = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const bytes = Math.round(Number(m[1]) * mult);
  if (bytes < 1 << 20 || bytes % 4096) throw new BenchError(`size ${s} must be at least 1M and a multiple of 4k`);
  return bytes;
}

export function formatBytes(n: number): string {
  for (const [u, m] of [['T', 2 ** 40], ['G', 2 ** 30], ['M', 2 ** 20], ['K', 2 ** 10]] as const) {
    if (n >= m && n % m === 0) return `${n / m}${u}`;
  }
  return `${n}`;
}

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ: 100 on every Linux this runs on). */
const USER_HZ = 100;

/** CPU seconds (user + system, all threads) process `pid` has used, or null when it cannot be read. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name (which may hold spaces, inside parentheses).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / USER_HZ; // utime, stime: fields 14 and 15
  } catch {
    return null;
  }
}
