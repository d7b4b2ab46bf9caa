// The control socket of a mount: one JSON request per connection, one JSON
// answer. `passfs status`, `passfs umount` and the tests talk to it.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import crypto from 'node:crypto';

export const RUN_DIR = process.env.PASSFS_RUN_DIR ?? '/run/passfs';

/** Where the daemon of `mountpoint` (a real path) listens, and logs. */
export function socketPath(mountpoint: string): string {
  const id = crypto.createHash('sha256').update(mountpoint).digest('hex').slice(0, 16);
  return path.join(RUN_DIR, `${id}.sock`);
}

export function logPath(mountpoint: string): string {
  return socketPath(mountpoint).replace(/\.sock$/, '.log');
}


/** Logs of mount points no daemon serves are removed when untouched this long. */
const LOG_KEEP_MS = 7 * 86_400_000;

/**
 * A new log file for a background daemon of `mountpoint`; the one before
 * (a daemon that failed, or one still serving a detached mount) is kept as
 * .log.1, replacing the one before it. Each daemon has a file of its own, so
 * that one ending cleanly removes its own and no other (removeOwnLog).
 */
export function openLog(mountpoint: string): { fd: number; path: string } {
  const p = logPath(mountpoint);
  if (fs.existsSync(p)) fs.renameSync(p, `${p}.1`);
  return { fd: fs.openSync(p, 'wx', 0o600), path: p };
}

/** At a clean exit: remove the log of `mountpoint` if it is this process's stderr (a background daemon's). */
export function removeOwnLog(mountpoint: string): void {
  const p = logPath(mountpoint);
  try {
    const mine = fs.fstatSync(2);
    const st = fs.statSync(p);
    if (st.ino === mine.ino && st.dev === mine.dev) fs.rmSync(p, { force: true });
  } catch { /* no log of ours */ }
}

/** Is anyone listening on the unix socket `p`? */
function listening(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(p);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code !== 'ECONNREFUSED' && e.code !== 'ENOENT'));
  });
}

/**
 * Remove what daemons that are gone left under RUN_DIR: control sockets
 * nobody listens on (a killed daemon's), and logs of mount points no
 * daemon serves that were not written to for a week. Returns how many files.
 */
export async function pruneRunDir(now = Date.now()): Promise<number> {
  let names: string[];
  try {
    names = fs.readdirSync(RUN_DIR);
  } catch {
    return 0;
  }
  let removed = 0;
  const rm = (f: string) => {
    fs.rmSync(path.join(RUN_DIR, f), { force: true });
    removed++;
  };
  const live = new Set<string>();
  await Promise.all(names.filter((f) => f.endsWith('.sock')).map(async (f) => {
    const p = path.join(RUN_DIR, f);
    const before = fs.lstatSync(p, { throwIfNoEntry: false });
    if (await listening(p)) live.add(f.slice(0, -'.sock'.length));
    // Removed only if it is still the file that nobody answered on (a daemon starting meanwhile makes a new one).
    else if (before && fs.lstatSync(p, { throwIfNoEntry: false })?.ino === before.ino) rm(f);
  }));
  for (const f of names) {
    const m = /^([0-9a-f]{16})\.log(\.1)?$/.exec(f);
    if (!m || live.has(m[1])) continue;
    const st = fs.statSync(path.join(RUN_DIR, f), { throwIfNoEntry: false });
    if (st && now - st.mtimeMs > LOG_KEEP_MS) rm(f);
  }
  return removed;
}

export type Command = { cmd: string; [k: string]: unknown };

export class ControlServer {
  private server: net.Server;
  readonly path: string;
  /** The socket file's inode: on close, remove the file only if it is still ours. */
  private ino = -1;
  private readonly open = new Set<net.Socket>();

  constructor(mountpoint: string, handle: (c: Command) => Promise<unknown>) {
    this.path = socketPath(mountpoint);
    this.server = net.createServer((sock) => {
      this.open.add(sock);
      sock.on('close', () => this.open.delete(sock));
      let buf = '';
      sock.setEncoding('utf8');
      sock.on('data', (d) => {
        buf += d;
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        let cmd: Command;
        try {
          cmd = JSON.parse(buf.slice(0, nl));
        } catch {
          sock.end(JSON.stringify({ ok: false, error: 'bad request' }) + '\n');
          return;
        }
        handle(cmd).then(
          (r) => sock.end(JSON.stringify(r) + '\n'),
          (e: Error) => sock.end(JSON.stringify({ ok: false, error: e.message }) + '\n'),
        );
      });
      sock.on('error', () => {});
    });
    this.server.unref();
  }

  listen(): Promise<void> {
    fs.mkdirSync(RUN_DIR, { recursive: true, mode: 0o700 });
    fs.rmSync(this.path, { force: true });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.path, () => {
        fs.chmodSync(this.path, 0o600);
        this.ino = fs.statSync(this.path).ino;
        resolve();
      });
    });
  }

  /**
   * Stop taking connections, keeping those open (a handover answers its
   * client after a successor listens here: Node removes the socket file on
   * close, so this one must close first). listen() again to take them again.
   */
  stopListening(): void {
    // close() stops listening (and removes the file) at once; its callback would wait for the clients to leave.
    this.server.close();
  }

  /** Stop listening; clients still connected are cut off (the daemon is going away). */
  close(): Promise<void> {
    for (const sock of this.open) sock.destroy();
    return new Promise((resolve) => this.server.close(() => {
      // A new daemon on the same mount point may already listen here.
      if (fs.statSync(this.path, { throwIfNoEntry: false })?.ino === this.ino) fs.rmSync(this.path, { force: true });
      resolve();
    }));
  }
}

/** Ask the daemon of `mountpoint` something. Rejects when no daemon answers. */
export function ask(mountpoint: string, cmd: Command, timeoutMs = 10_000): Promise<any> {
  const p = socketPath(mountpoint);
  return new Promise((resolve, reject) => {
    const sock = net.connect(p);
    let buf = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no answer from the daemon of ${mountpoint}`)); }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(cmd) + '\n'));
    sock.on('data', (d) => (buf += d));
    sock.on('end', () => {
      clearTimeout(timer);
      sock.destroy();
      try {
        resolve(JSON.parse(buf));
      } catch {
        reject(new Error(`bad answer from the daemon of ${mountpoint}`));
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? `no passfs daemon serves ${mountpoint}`
        : e.code === 'EACCES' ? `the daemon of ${mountpoint} answers root only (its control socket is root's): run this as root` : e.message));
    });
  });
}
