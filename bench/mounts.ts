// passfs mounts of the bench, through the passfs command line: mount, status
// (request counters), unmount. Every mount made is remembered until it is
// unmounted, so an interrupted bench can take them all down.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { run } from './proc.js';
import { BenchError, mountsUnder } from './system.js';
import type { DaemonStatus } from '../src/server/status.js';

export const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
let passfsBin = process.env.PASSFS_BIN ?? path.join(REPO, 'bin/passfs.js');

/** Use another passfs command (e.g. a frozen build while the daemon is being worked on). */
export function setPassfsBin(p: string): void {
  passfsBin = path.resolve(p);
}

export function getPassfsBin(): string {
  return passfsBin;
}

const mounted = new Set<string>();

function oneLine(s: string): string {
  const lines = s.split('\n').map((l) => l.trim()).filter(Boolean);
  return (lines.find((l) => l.startsWith('passfs:')) ?? lines.at(-1) ?? '').replace(/^passfs:\s*/, '');
}

export async function mount(lower: string, mnt: string, args: string[]): Promise<void> {
  fs.mkdirSync(mnt, { recursive: true });
  mounted.add(mnt);
  const r = await run(process.execPath, [passfsBin, 'mount', lower, mnt, ...args], { wait: true });
  if (r.code !== 0) {
    if (!mountsUnder(mnt).includes(path.resolve(mnt))) mounted.delete(mnt);
    throw new BenchError(`passfs mount ${args.join(' ')} at ${mnt} failed: ${oneLine(r.stderr + r.stdout) || `exit ${r.code ?? r.signal}`}`);
  }
}

export type { DaemonStatus };

export async function status(mnt: string): Promise<DaemonStatus> {
  const r = await run(process.execPath, [passfsBin, 'status', mnt, '--json']);
  if (r.code !== 0) throw new BenchError(`passfs status ${mnt} failed: ${oneLine(r.stderr) || `exit ${r.code ?? r.signal}`}`);
  try {
    const s = JSON.parse(r.stdout) as DaemonStatus;
    if (!s.requests || typeof s.requests !== 'object') throw new Error('no "requests"');
    return s;
  } catch (e) {
    throw new BenchError(`passfs status ${mnt}: unreadable JSON (${(e as Error).message})`);
  }
}

/** Requests served between two status snapshots, by opcode; zero counts left out. */
export function requestDiff(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [op, n] of Object.entries(after)) {
    const d = n - (before[op] ?? 0);
    if (d !== 0) out[op] = d;
  }
  return out;
}

export async function umount(mnt: string): Promise<void> {
  const r = await run(process.execPath, [passfsBin, 'umount', mnt], { wait: true });
  if (r.code !== 0 && mountsUnder(mnt).includes(path.resolve(mnt))) {
    throw new BenchError(`passfs umount ${mnt} failed: ${oneLine(r.stderr) || `exit ${r.code ?? r.signal}`}`);
  }
  mounted.delete(mnt);
}

/**
 * Take down every mount the bench made, synchronously (used on a signal and
 * on the way out): passfs umount, then a lazy umount(8) for anything left.
 */
export function umountAllSync(): string[] {
  const problems: string[] = [];
  for (const mnt of [...mounted]) {
    if (mountsUnder(mnt).includes(path.resolve(mnt))) {
      const r = spawnSync(process.execPath, [passfsBin, 'umount', mnt], { encoding: 'utf8', timeout: 40_000 });
      if (mountsUnder(mnt).includes(path.resolve(mnt))) {
        spawnSync('umount', ['-l', mnt], { encoding: 'utf8' });
        if (mountsUnder(mnt).includes(path.resolve(mnt))) problems.push(`${mnt} still mounted (${oneLine(r.stderr ?? '')})`);
      }
    }
    mounted.delete(mnt);
  }
  return problems;
}

export function mountedNow(): string[] {
  return [...mounted];
}
