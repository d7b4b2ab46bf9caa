// Handing the mount to a successor process without unmounting (issue 19).
//
// The kernel keeps a FUSE connection while anyone holds a /dev/fuse
// descriptor of it, and what it refers to (node ids, file handles, backing
// ids) is in the daemon's shared state file (statefile.ts). So a successor
// needs two descriptors, the connection and the state file, and from them
// rebuilds what was the process before's (descriptors: fs/inodes.ts rebase,
// fs/openfiles.ts rebase). They reach it the way systemd passes descriptors:
// $LISTEN_FDS from fd 3 on, named by $LISTEN_FDNAMES. Two ways lead there:
//  - `passfs restart MNT`: the running daemon stops taking requests, answers
//    the ones it began, and starts its successor itself with the two
//    descriptors; it ends once the successor serves (or, if the successor
//    fails, serves again: nothing is unmounted either way);
//  - a daemon that died (kill -9): under systemd with FileDescriptorStoreMax,
//    the daemon put its descriptors in the fd store at start (FDSTORE=1),
//    its worker clones included, so that requests it had read stay queued in
//    the kernel; systemd starts the unit again with them, and the successor
//    has the kernel send those requests again (FUSE_NOTIFY_RESEND).
import fs from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { native } from '../native/index.js';
import { AT_FDCWD, O } from '../native/linux.js';
import type { Capabilities } from '../fuse/init.js';

/** Names of the descriptors handed over (LISTEN_FDNAMES, FDNAME=). */
export const FD_FUSE = 'passfs-fuse';
export const FD_STATE = 'passfs-state';
/** A worker's /dev/fuse clone in the fd store: passfs-w0, passfs-w1... */
export const FD_WORKER = 'passfs-w';

/** What a successor must know that the kernel will not say again (the state file's header). */
export interface HandoverState {
  /** The INIT agreement (there is no second INIT on a connection). */
  caps: Capabilities;
  /** 0 for the daemon that mounted; each successor one more. */
  generation: number;
  /** When the mount was made (the first daemon's start). */
  mountedAt: string;
  /** The entry and attribute timeout the kernel was told. */
  validMs: number;
  /** The lower root's mount id as the process before saw it (its handles name it). */
  rootMountId: number;
  /** The daemon that last served, and the workers it had (their clones may be in the fd store). */
  pid: number;
  workers: number;
  /** The lower directory and mount point, canonical, as the first daemon had them. */
  lower: string;
  mountpoint: string;
}

/** Are the descriptors handed over what they say (the FUSE device, a passfs state memfd)? A reason if not. */
export function checkHanded(devFd: number, stateFd: number): string | null {
  try {
    const dev = fs.fstatSync(devFd);
    // /dev/fuse: character device 10, 229.
    if (!dev.isCharacterDevice() || dev.rdev !== ((10 << 8) | 229)) return `descriptor ${devFd} is not /dev/fuse`;
    if (!fs.readlinkSync(`/proc/self/fd/${stateFd}`).startsWith('/memfd:passfs-state')) return `descriptor ${stateFd} is not a passfs state file`;
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}

/** Descriptors passed to this process ($LISTEN_FDS, $LISTEN_FDNAMES; $LISTEN_PID if set must be ours), by name; read once, then the variables are removed so that no child inherits them. */
export function listenFds(env: NodeJS.ProcessEnv = process.env): Map<string, number[]> | null {
  const n = Number(env.LISTEN_FDS ?? 0);
  const pid = env.LISTEN_PID;
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  delete env.LISTEN_PID;
  if (!Number.isInteger(n) || n <= 0 || (pid !== undefined && Number(pid) !== process.pid)) return null;
  const out = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const name = names[i] || 'unknown';
    out.set(name, [...(out.get(name) ?? []), 3 + i]);
  }
  return out.has(FD_FUSE) && out.has(FD_STATE) ? out : null;
}

/**
 * An open directory of the mount `mountId` names (open_by_handle_at's mount
 * fd): the lower root's own for the mount it was on, else the mount point
 * /proc/self/mountinfo gives; -1 when the mount is gone.
 */
export function mountDir(mountId: number, rootMountId: number, rootDir: () => number): number {
  if (mountId === rootMountId) return rootDir();
  let info: string;
  try {
    info = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return -1;
  }
  for (const line of info.split('\n')) {
    const f = line.split(' ');
    if (Number(f[0]) !== mountId) continue;
    // Octal escapes (\040 for a space) in the mount point.
    const where = f[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const fd = native.openat2(AT_FDCWD, where, O.RDONLY | O.DIRECTORY | O.CLOEXEC, 0, 0);
    return fd >= 0 ? fd : -1;
  }
  return -1;
}

/** Put descriptors in the fd store of whoever supervises us ($NOTIFY_SOCKET with $FDSTORE set: systemd's FileDescriptorStoreMax). */
export function fdStore(name: string, ...fds: number[]): boolean {
  if (!fdStoreEnabled()) return false;
  return native.sdNotifyFds(process.env.NOTIFY_SOCKET!, `FDSTORE=1\nFDNAME=${name}`, ...fds) > 0;
}

/** Is there an fd store to use (systemd sets $FDSTORE to FileDescriptorStoreMax when it is above 0)? */
export function fdStoreEnabled(): boolean {
  return !!process.env.NOTIFY_SOCKET && Number(process.env.FDSTORE ?? 0) > 0;
}

/** Take descriptors out of the fd store (FDSTOREREMOVE). */
export function fdStoreRemove(name: string): void {
  if (fdStoreEnabled()) native.sdNotify(process.env.NOTIFY_SOCKET!, `FDSTOREREMOVE=1\nFDNAME=${name}`);
}

/** How long a successor may take to get ready, and then to serve, before the restart is given up (this daemon serves on). */
const SUCCESSOR_TIMEOUT_MS = 30_000;
/** The pipe on which a successor is told to go (LISTEN_FDNAMES). */
export const FD_GO = 'passfs-go';

/**
 * A successor process, started before this daemon stops serving: this
 * process's program and mount arguments (`argv`, after the node binary; a
 * newer passfs installed at the same path runs), in the foreground, with the
 * connection, the state file and a "go" pipe as LISTEN_FDS 3, 4, 5, and a
 * pipe on fd 6 on which it says "standby" once it is loaded (its worker
 * threads up, waiting), then "ok" once it serves, or "error: ...". Its
 * stdout and stderr are ours (the log file, or the journal). The pause the
 * applications see is from drain to "ok": the successor's start-up is not
 * in it.
 */
export class Successor {
  private buf = '';
  private readonly lines: string[] = [];
  private waiter: (() => void) | null = null;
  private exited: string | null = null;

  private constructor(private readonly child: ChildProcess, private readonly goPipe: Writable) {
    const pipe = (child.stdio as unknown as NodeJS.ReadableStream[])[6];
    pipe.setEncoding('utf8');
    pipe.on('data', (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(this.buf.slice(0, nl).trim());
        this.buf = this.buf.slice(nl + 1);
      }
      this.waiter?.();
    });
    pipe.on('error', () => {});
    goPipe.on('error', () => {});
    // A successor that cannot even be started (node gone, no processes left): said, not thrown.
    child.on('error', (e) => {
      this.exited = `the successor could not be started: ${e.message}`;
      this.waiter?.();
    });
    child.on('exit', (code, sig) => {
      this.exited = `the successor exited (${code ?? sig}) before serving`;
      this.waiter?.();
    });
  }

  static start(argv: string[], devFd: number, stateFd: number): Successor {
    const args = [...argv];
    const r = args.indexOf('--ready-fd');
    if (r >= 0) args.splice(r, 2);
    if (!args.includes('--foreground') && !args.includes('-f')) args.push('--foreground');
    args.push('--ready-fd', '6');
    const child = spawn(process.execPath, [...process.execArgv, ...args], {
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit', devFd, stateFd, 'pipe', 'pipe'],
      env: { ...process.env, LISTEN_FDS: '3', LISTEN_FDNAMES: `${FD_FUSE}:${FD_STATE}:${FD_GO}` },
    });
    return new Successor(child, (child.stdio as unknown as Writable[])[5]);
  }

  get pid(): number { return this.child.pid ?? -1; }

  /** The successor's next line ("standby", "ok", "error: ..."), or an error line when it exits or takes too long. */
  async next(): Promise<string> {
    const end = Date.now() + SUCCESSOR_TIMEOUT_MS;
    while (this.lines.length === 0) {
      if (this.exited) return `error: ${this.exited}`;
      if (Date.now() > end) {
        this.child.kill('SIGKILL');
        return `error: the successor did not answer within ${SUCCESSOR_TIMEOUT_MS / 1000} s`;
      }
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 100).unref();
      });
      this.waiter = null;
    }
    return this.lines.shift()!;
  }

  /** Tell it to take over (this daemon has stopped serving). */
  go(): void {
    this.goPipe.end('go\n');
  }

  /** It serves: let this process end without waiting for it. */
  release(): void {
    this.child.unref();
    for (const s of this.child.stdio) (s as { destroy?: () => void } | null)?.destroy?.();
  }

  /** Kill it, and resolve once it is gone (it must not serve alongside whoever serves next). */
  kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGKILL');
    return gone;
  }
}

/** A successor's wait for "go" on `fd` (the pipe its predecessor writes): resolves at "go", or when the predecessor is gone (end of file). */
export function waitForGo(fd: number): Promise<void> {
  return new Promise((resolve) => {
    const s = fs.createReadStream('', { fd, autoClose: true });
    s.on('data', () => { s.destroy(); resolve(); });
    s.on('end', () => resolve());
    s.on('error', () => resolve());
  });
}
