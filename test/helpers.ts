// Shared test helpers: real mounts through the real CLI, a scratch area, and
// commands run as an unprivileged user. Nothing here mocks the kernel: a
// machine without /dev/fuse fails these tests loudly.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync, SpawnSyncReturns } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ask } from '../src/server/control.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = path.join(ROOT, 'bin/passfs.js');
/** An unprivileged uid/gid without a passwd entry: enough for the kernel's checks. */
export const USER = { uid: 4321, gid: 4321 };

if (!fs.existsSync('/dev/fuse')) throw new Error('FUSE is missing (/dev/fuse): these tests need a real FUSE kernel');
if (process.getuid?.() !== 0) throw new Error('the tests mount file systems and must run as root');

export interface Mount {
  base: string;
  lower: string;
  mnt: string;
  /** Path through the mount. */
  m(...p: string[]): string;
  /** Path on the lower directory. */
  l(...p: string[]): string;
  status(): Promise<any>;
  /** Unmount and remove the scratch directories (keep them with keep = true). */
  umount(keep?: boolean): void;
}

export function scratch(prefix = 'passfs-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Run the CLI; returns its result without throwing. */
export function cli(args: string[], opts: { uid?: number; gid?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', ...opts });
}

/** Mount a fresh lower directory (or `lower`) with the given CLI options. */
export function mount(options: string[] = [], lower?: string): Mount {
  const base = scratch();
  const low = lower ?? path.join(base, 'lower');
  const mnt = path.join(base, 'mnt');
  fs.mkdirSync(low, { recursive: true });
  fs.mkdirSync(mnt);
  fs.chmodSync(base, 0o755);
  const r = cli(['mount', low, mnt, '--allow-other', ...options]);
  if (r.status !== 0) throw new Error(`mount failed: ${r.stderr}${r.stdout}`);
  let mounted = true;
  return {
    base,
    lower: low,
    mnt,
    m: (...p) => path.join(mnt, ...p),
    l: (...p) => path.join(low, ...p),
    status: () => ask(mnt, { cmd: 'status' }),
    umount(keep = false) {
      if (!mounted) return;
      mounted = false;
      const u = cli(['umount', mnt]);
      if (u.status !== 0) throw new Error(`umount failed: ${u.stderr}`);
      waitUnmounted(mnt);
      if (!keep) fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

export function isMounted(mnt: string): boolean {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === mnt);
}

export function waitUnmounted(mnt: string, ms = 10_000): void {
  const end = Date.now() + ms;
  while (isMounted(mnt)) {
    if (Date.now() > end) throw new Error(`${mnt} still mounted`);
    spawnSync('sleep', ['0.05']);
  }
}

/** Run a shell command as the unprivileged test user. */
export function asUser(cmd: string, cwd?: string): SpawnSyncReturns<string> {
  return spawnSync('sh', ['-c', cmd], { encoding: 'utf8', uid: USER.uid, gid: USER.gid, cwd, env: { PATH: process.env.PATH } });
}

export function sh(cmd: string): string {
  return execFileSync('sh', ['-c', cmd], { encoding: 'utf8' });
}

/** The errno code of a failing fs call, or 'OK'. */
export function code(fn: () => unknown): string {
  try {
    fn();
    return 'OK';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

/** The stat fields a mirror must reproduce. */
export function statOf(p: string): Record<string, number | bigint> {
  const s = fs.lstatSync(p, { bigint: true });
  return {
    ino: s.ino, mode: s.mode, nlink: s.nlink, uid: s.uid, gid: s.gid, size: s.size,
    rdev: s.rdev, mtimeNs: s.mtimeNs, atimeNs: s.atimeNs, blocks: s.blocks,
  };
}

/**
 * The configurations the data-path suites run under: passthrough over both
 * transports, and mediated with each engine over each transport. The test
 * runner turns FUSE over io_uring on for the run (and restores it).
 */
export const CONFIGS: { name: string; args: string[]; io: 'passthrough' | 'mediated' }[] = [
  { name: 'passthrough/devfuse', io: 'passthrough', args: ['--io', 'passthrough', '--transport', 'devfuse'] },
  { name: 'passthrough/uring', io: 'passthrough', args: ['--io', 'passthrough', '--transport', 'uring'] },
  { name: 'mediated-sync/devfuse', io: 'mediated', args: ['--io', 'mediated', '--mediated', 'sync', '--transport', 'devfuse'] },
  { name: 'mediated-async/devfuse', io: 'mediated', args: ['--io', 'mediated', '--mediated', 'async', '--transport', 'devfuse'] },
  { name: 'mediated-sync/uring', io: 'mediated', args: ['--io', 'mediated', '--mediated', 'sync', '--transport', 'uring'] },
  { name: 'mediated-async/uring', io: 'mediated', args: ['--io', 'mediated', '--mediated', 'async', '--transport', 'uring'] },
];
