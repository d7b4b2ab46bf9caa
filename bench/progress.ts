// One progress line on stderr: rewritten in place on a terminal, one plain
// line per step otherwise (logs, CI, tests).

export class Progress {
  private width = 0;
  private readonly t0 = Date.now();
  constructor(private readonly total: number, private readonly stream: NodeJS.WriteStream = process.stderr) {}

  private get tty(): boolean {
    return !!this.stream.isTTY;
  }

  /** Show step `done + 1` of total with a label. */
  update(done: number, label: string): void {
    const el = (Date.now() - this.t0) / 1000;
    const eta = done > 0 ? (el / done) * (this.total - done) : NaN;
    const line = `[${done + 1}/${this.total}] ${label}  ${clock(el)}${Number.isFinite(eta) ? ` (~${clock(eta)} left)` : ''}`;
    this.write(line);
  }

  /** A message that stays (errors, notes), above the progress line. */
  note(msg: string): void {
    this.clear();
    this.stream.write(msg + '\n');
  }

  write(line: string): void {
    if (this.tty) {
      const cols = this.stream.columns || 120;
      const l = line.length >= cols ? line.slice(0, cols - 1) : line;
      this.stream.write(`\r${l}${' '.repeat(Math.max(0, this.width - l.length))}`);
      this.width = l.length;
    } else {
      this.stream.write(line + '\n');
    }
  }

  clear(): void {
    if (this.tty && this.width) {
      this.stream.write(`\r${' '.repeat(this.width)}\r`);
      this.width = 0;
    }
  }
}

export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
