// The audit trail: one JSON line per policy decision, and one per read and
// write of files a rule marks `audit: true`. Each worker has its own stream to
// the destination (a file opened O_APPEND, so lines from several workers never
// interleave; or stdout, which the main thread forwards). Writes are
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

  constructor(readonly dest: string, readonly onFailure: AuditFailure, private readonly log: (m: string) => void) {
    this.out = dest === '-' ? process.stdout : fs.createWriteStream(dest, { flags: 'a' });
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
    if (fs.statSync(dest).isDirectory()) return `cannot write audit log ${dest}: EISDIR`;
    fs.accessSync(dest, fs.constants.W_OK);
    return null;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return why(e);
  }
  try {
    const dir = path.dirname(path.resolve(dest));
    if (!fs.statSync(dir).isDirectory()) return `cannot write audit log ${dest}: ENOTDIR`;
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
    return null;
  } catch (e) {
    return why(e);
  }
}
