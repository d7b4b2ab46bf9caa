// The audit trail: one JSON line per policy decision, and one per read and
// write of files a rule marks `audit: true`. Each worker has its own stream to
// the destination (the one file the main thread opened O_APPEND, so lines
// from several workers never interleave; or stdout, which the main thread
// forwards). Only root may write the trail: the daemon creates the file with
// --audit-mode (0600 by default) and refuses to append to one that another
// user owns or that group or others may write (they could forge or erase it). Writes are
// asynchronous: request handling never waits for the disk. If the destination
// fails, or falls more than BACKLOG bytes behind, the audit is "broken": the
// daemon says so once, and with --audit-failure deny refuses opens from then on.
import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';

const BACKLOG = 16 << 20;

export type AuditFailure = 'deny' | 'continue';

export class AuditLog {
  private readonly out: Writable;
  private brokenReason: string | null = null;

  /** `fd`: the audit file the main thread opened (openAuditFile); unused for stdout. */
  constructor(readonly dest: string, fd: number, readonly onFailure: AuditFailure, private readonly log: (m: string) => void) {
    this.out = dest === '-' ? process.stdout : fs.createWriteStream(dest, { fd, autoClose: false });
    this.out.on('error', (e: Error) => this.fail(e.message));
  }

  /** True when opens must be refused: the audit is broken and the policy is to deny. */
  get refusing(): boolean {
    return this.brokenReason !== null && this.onFailure === 'deny';
  }

  write(record: Record<string, unknown>): void {
    if (this.brokenReason) return;
    if (this.out.writableLength > BACKLOG) {
      this.fail(`more than ${BACKLOG >> 20} MiB of audit lines not yet written`);
      return;
    }
    this.out.write(JSON.stringify({ time: new Date().toISOString(), ...record }) + '\n');
  }

  close(): Promise<void> {
    if (this.out === process.stdout) return Promise.resolve();
    return new Promise((r) => this.out.end(r));
  }

  private fail(reason: string): void {
    if (this.brokenReason) return;
    this.brokenReason = reason;
    this.log(`audit log ${this.dest} failed (${reason}): ${this.onFailure === 'deny' ? 'refusing opens from now on' : 'continuing without audit'}`);
  }
}

/** Check an audit destination before mounting: a clear error instead of a broken trail later. */
export function checkAuditDest(dest: string): string | null {
  if (dest === '-') return null;
  // Checked without creating it: a start refused later leaves no empty log behind.
  const why = (e: unknown) => `cannot write audit log ${dest}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  try {
    const dirWhy = unsafeAuditDir(dest);
    if (dirWhy) return dirWhy;
  } catch (e) {
    return why(e);
  }
  try {
    const st = fs.lstatSync(dest);
    if (st.isDirectory()) return `cannot write audit log ${dest}: EISDIR`;
    const unsafe = unsafeAuditFile(dest, st);
    if (unsafe) return unsafe;
    fs.accessSync(dest, fs.constants.W_OK);
    return null;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return why(e);
  }
  try {
    fs.accessSync(path.dirname(path.resolve(dest)), fs.constants.W_OK | fs.constants.X_OK);
    return null;
  } catch (e) {
    return why(e);
  }
}

/**
 * Why the directory of an audit file cannot be trusted, or null: one that a
 * user other than the daemon's may write (and is not sticky) lets that user
 * replace or remove the trail.
 */
function unsafeAuditDir(dest: string): string | null {
  const dir = path.dirname(path.resolve(dest));
  const st = fs.statSync(dir);
  if (!st.isDirectory()) return `cannot write audit log ${dest}: ENOTDIR`;
  const sticky = (st.mode & 0o1000) !== 0;
  if (st.uid !== process.geteuid?.() && st.uid !== 0) {
    return `audit log ${dest}: its directory ${dir} belongs to uid ${st.uid}, who could replace the trail (use a directory root owns)`;
  }
  if ((st.mode & 0o022) && !sticky) {
    return `audit log ${dest}: its directory ${dir} is writable by ${st.mode & 0o002 ? 'others' : 'its group'}, who could replace the trail (chmod go-w ${dir}, or choose another directory)`;
  }
  return null;
}

/** Why an existing audit file cannot be trusted (another user could forge or erase lines), or null. */
function unsafeAuditFile(dest: string, st: fs.Stats): string | null {
  if (st.isSymbolicLink()) return `audit log ${dest} is a symbolic link: refusing to follow it (name the file itself)`;
  if (!st.isFile()) return `audit log ${dest} is not a regular file: refusing to append to it`;
  if (st.nlink !== 1) return `audit log ${dest} has ${st.nlink} links: refusing to append to a file reachable by other names`;
  if (st.uid !== process.geteuid?.()) return `audit log ${dest} belongs to uid ${st.uid}: refusing to append to a file another user can rewrite (use a file root owns)`;
  if (st.mode & 0o022) {
    return `audit log ${dest} is writable by ${st.mode & 0o002 ? 'others' : 'its group'} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}): refusing to append to it (chmod go-w ${dest}, or choose another file)`;
  }
  return null;
}

/** An open audit file: its fd and, when this call made it, its identity (so that only it is ever removed). */
export interface AuditFile { fd: number; created: { dev: number; ino: number } | null }

/**
 * Open (or create, with `mode`) the audit file for appending, for every
 * worker to share. Never through a symbolic link; a new file is made with
 * O_EXCL, so `created` is exact. Checked again on the open file: one swapped
 * in since the check before mounting is refused as well. Throws with a
 * one-line reason.
 */
export function openAuditFile(dest: string, mode: number): AuditFile {
  const c = fs.constants;
  const flags = c.O_WRONLY | c.O_APPEND | c.O_NOCTTY | c.O_NONBLOCK | c.O_NOFOLLOW;
  const fail = (e: unknown): never => {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ELOOP' ? `audit log ${dest} is a symbolic link: refusing to follow it (name the file itself)` : `cannot write audit log ${dest}: ${code ?? (e as Error).message}`);
  };
  const dirWhy = unsafeAuditDir(dest);
  if (dirWhy) throw new Error(dirWhy);
  let fd = -1;
  let created = false;
  try {
    fd = fs.openSync(dest, flags | c.O_CREAT | c.O_EXCL, mode);
    created = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') fail(e);
  }
  if (!created) {
    // Looked at before it is opened: opening a device or FIFO may itself do something.
    const pre = fs.lstatSync(dest);
    const unsafe = unsafeAuditFile(dest, pre);
    if (unsafe) throw new Error(unsafe);
    try {
      fd = fs.openSync(dest, flags);
    } catch (e) {
      fail(e);
    }
  }
  if (created) fs.fchmodSync(fd, mode); // exactly the mode asked, whatever the umask
  const st = fs.fstatSync(fd);
  const unsafe = unsafeAuditFile(dest, st);
  if (unsafe) {
    fs.closeSync(fd);
    if (created) removeAuditFile(dest, { dev: st.dev, ino: st.ino });
    throw new Error(unsafe);
  }
  return { fd, created: created ? { dev: st.dev, ino: st.ino } : null };
}

/** Remove the audit file a failed start created: only if the name still holds that very file. */
export function removeAuditFile(dest: string, made: { dev: number; ino: number }): void {
  try {
    const st = fs.lstatSync(dest);
    if (st.dev === made.dev && st.ino === made.ino) fs.unlinkSync(dest);
  } catch { /* gone already */ }
}
