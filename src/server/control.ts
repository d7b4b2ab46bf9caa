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
