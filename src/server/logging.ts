// Log lines a user can cause through the mount (a refused backing file, a
// mount inside LOWER not crossed, a request that failed inside the daemon)
// must not let that user fill the disk. Each kind of line (its first line,
// digits folded) is let through a few times per window, every line is cut
// to a bounded length, and all kinds together share a budget; what is held
// back is counted and reported once, when its window ends.
//
// Lines have a level (--log-level: error, warn, info, debug). Under systemd
// each line starts with its syslog priority (<4>) and the journal stamps the
// time; elsewhere a line starts with its time and level. --debug also traces
// every request (traced lines are not rate-limited: the admin asked for them).

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
export function rateLimited(write: (line: string, level: Level) => void, o: LimitOptions = LOG_LIMITS, now: () => number = Date.now): Log {
  let start = now();
  let total = 0;
  const counts = new Map<string, { shown: number; held: number }>();
  let timer: ReturnType<typeof setTimeout> | null = null;

  const endWindow = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    const secs = Math.round((now() - start) / 1000);
    for (const [kind, c] of counts) {
      if (c.held > 0) write(`${c.held} more line(s) like this were not logged in the last ${secs} s: ${kind}`, 'warn');
    }
    counts.clear();
    total = 0;
    start = now();
  };

  return (raw: string, level: Level = 'info') => {
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
    write(cut(msg, o.maxChars), level);
  };
}

function cut(msg: string, max: number): string {
  return msg.length > max ? `${msg.slice(0, max)}... (${msg.length - max} more characters)` : msg;
}

export type Level = 'error' | 'warn' | 'info' | 'debug';
export const LEVELS: readonly Level[] = ['error', 'warn', 'info', 'debug'];
/** syslog priorities, as sd-daemon(3) prefixes read by the journal. */
const PRIORITY: Record<Level, number> = { error: 3, warn: 4, info: 6, debug: 7 };

/** A log function: a message, and its level (info unless said). */
export type Log = (msg: string, level?: Level) => void;

/** How a line is written: `<4>passfs: ...` for the journal, `TIME passfs LEVEL: ...` elsewhere. */
export function formatLine(prefix: string, level: Level, msg: string, journal: boolean, at: Date = new Date()): string {
  return journal ? `<${PRIORITY[level]}>${prefix}: ${msg}\n` : `${at.toISOString()} ${prefix} ${level}: ${msg}\n`;
}

export interface Logger {
  /** Rate-limited lines at `threshold` and above. */
  log: Log;
  /** One line per traced request, only at debug (null otherwise: callers test it, so tracing off costs nothing). */
  trace: ((msg: string) => void) | null;
}

/** A logger for `prefix` ("passfs", "passfs[worker 0]") writing through `out` (stderr). */
export function makeLogger(prefix: string, threshold: Level, journal: boolean, out: (line: string) => void, o: LimitOptions = LOG_LIMITS): Logger {
  const rank = LEVELS.indexOf(threshold);
  const limited = rateLimited((line, level) => out(formatLine(prefix, level, line, journal)), o);
  return {
    log: (msg, level = 'info') => {
      if (LEVELS.indexOf(level) <= rank) limited(msg, level);
    },
    trace: threshold === 'debug' ? traceLimited((line) => out(formatLine(prefix, 'debug', cut(oneLine(line), o.maxChars), journal))) : null,
  };
}

/** Traced lines per second at most: --debug on a busy mount must not fill /run (a tmpfs) by itself. */
export const TRACE_PER_SECOND = 2000;

/** Every line up to TRACE_PER_SECOND a second; the rest counted, and said in one line when the next second starts. */
function traceLimited(write: (line: string) => void, now: () => number = Date.now): (msg: string) => void {
  let second = 0;
  let n = 0;
  let held = 0;
  return (msg) => {
    const s = Math.floor(now() / 1000);
    if (s !== second) {
      if (held > 0) write(`${held} more traced request(s) were not logged in the second before (at most ${TRACE_PER_SECOND} a second)`);
      second = s;
      n = 0;
      held = 0;
    }
    if (n++ < TRACE_PER_SECOND) write(msg);
    else held++;
  };
}
