// Child processes of the bench (fio, make, find, the small-files workload):
// run asynchronously so a signal is handled at once, each in its own process
// group so the whole tree (make's compilers) can be stopped.
import { spawn, spawnSync } from 'node:child_process';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  seconds: number;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Discard stdout instead of collecting it. */
  ignoreStdout?: boolean;
  /**
   * Never kill it on an abort, wait for it instead (passfs mount/umount: a
   * killed mount command would leave its daemon mounting behind our back).
   */
  wait?: boolean;
}

const live = new Map<number, { done: Promise<unknown>; wait: boolean }>();

export function run(cmd: string, args: string[], o: RunOptions = {}): Promise<RunResult> {
  const t0 = process.hrtime.bigint();
  const child = spawn(cmd, args, {
    cwd: o.cwd,
    env: o.env ?? process.env,
    stdio: ['ignore', o.ignoreStdout ? 'ignore' : 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 1 << 20) stderr += d; });
  const done = new Promise<RunResult>((resolve) => {
    child.on('error', (e) => {
      if (child.pid !== undefined) live.delete(child.pid);
      resolve({ code: 127, signal: null, stdout, stderr: `${cmd}: ${e.message}`, seconds: 0 });
    });
    child.on('close', (code, signal) => {
      if (child.pid !== undefined) live.delete(child.pid);
      resolve({ code, signal, stdout, stderr, seconds: Number(process.hrtime.bigint() - t0) / 1e9 });
    });
  });
  if (child.pid !== undefined) live.set(child.pid, { done, wait: !!o.wait });
  return done;
}

/** Stop every child still running (whole process groups) and wait for them (and for those we must not kill). */
export async function killChildren(): Promise<void> {
  const waits = [...live.entries()].map(([pid, c]) => {
    if (!c.wait) {
      try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    return c.done;
  });
  await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 45_000))]);
}

/** A short synchronous command (version queries, sync): stdout, or null if it failed. */
export function capture(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error || r.status !== 0) return null;
  return r.stdout;
}
