// Log lines a user can cause through the mount (a refused backing file, a
// mount inside LOWER not crossed, a request that failed inside the daemon)
// must not let that user fill the disk. Each kind of line (its first line,
// digits folded) is let through a few times per window, every line is cut
// to a bounded length, and all kinds together share a budget; what is held
// back is counted and reported once, when its window ends.

export interface LimitOptions {
  /** Lines of one kind per window. */
  perKind: number;
  /** Lines of all kinds per window. */
  total: number;
  windowMs: number;
  /** Longest line kept (longer ones are cut, with a marker). */
  maxChars: number;
}

export const LOG_LIMITS: LimitOptions = { perKind: 10, total: 100, windowMs: 60_000, maxChars: 4096 };

/** Kinds remembered per window; beyond it, new kinds share one count. */
const MAX_KINDS = 256;
const OTHER = '(other kinds)';

/** The kind of a message: its start, numbers folded, so "node 12" and "node 13" count as one. */
function kindOf(msg: string): string {
  return msg.slice(0, 160).replace(/\d+/g, '#');
}

/**
 * One line, whatever the message holds: control characters (a newline in a
 * file name a user chose, say) are escaped, so no text from the mount can
 * start a line of its own in the log and pass for the daemon's.
 */
export function oneLine(msg: string): string {
  // eslint-disable-next-line no-control-regex
  return msg.replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/**
 * A log function that writes through `write` within the limits. Suppressed
 * lines are summed per kind and said in one line each at the end of their
 * window (a timer that does not keep the process alive).
 */
export function rateLimited(write: (line: string) => void, o: LimitOptions = LOG_LIMITS, now: () => number = Date.now): (msg: string) => void {
  let start = now();
  let total = 0;
  const counts = new Map<string, { shown: number; held: number }>();
  let timer: ReturnType<typeof setTimeout> | null = null;

  const endWindow = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    const secs = Math.round((now() - start) / 1000);
    for (const [kind, c] of counts) {
      if (c.held > 0) write(`${c.held} more line(s) like this were not logged in the last ${secs} s: ${kind}`);
    }
    counts.clear();
    total = 0;
    start = now();
  };

  return (raw: string) => {
    const msg = oneLine(raw);
    if (now() - start >= o.windowMs) endWindow();
    let kind = kindOf(msg);
    let c = counts.get(kind);
    if (!c) {
      if (counts.size >= MAX_KINDS) kind = OTHER;
      c = counts.get(kind) ?? { shown: 0, held: 0 };
      counts.set(kind, c);
    }
    if (c.shown >= o.perKind || total >= o.total) {
      c.held++;
      if (!timer) {
        timer = setTimeout(endWindow, Math.max(0, o.windowMs - (now() - start)));
        timer.unref?.();
      }
      return;
    }
    c.shown++;
    total++;
    write(msg.length > o.maxChars ? `${msg.slice(0, o.maxChars)}... (${msg.length - o.maxChars} more characters)` : msg);
  };
}
