// The counters every layer counts into: one row of doubles per worker, in
// shared memory (server/stats.ts allocates the rows and sums them). Each
// counter's slot is derived from the one before it, so a new counter is one
// more line, and the ranges (by opcode, by fallback errno, by rule) cannot
// overlap.
import { OP_SLOTS } from '../fuse/opcodes.js';

/** Rules beyond this many share the default's counter (and the loader's limit keeps policies far below it). */
export const MAX_RULES = 256;
/** Fallback reasons are counted by errno below this. */
export const FALLBACK_ERRNOS = 160;
/** Latency buckets per opcode (LAT_BOUNDS_US, and one for longer). */
export const LAT_BUCKETS = 22;

export const enum C {
  // 0 .. OP_SLOTS-1: requests by opcode
  openPassthrough = OP_SLOTS,
  openMediated,
  openFallback,
  openDenied,
  bytesRead,
  bytesWritten,
  /** Opens kept mediated because a write by this opener must clear suid/sgid/capabilities. */
  privMediated,
  /** Opens that joined the inode's existing mode instead of the one they would have had. */
  modeJoined,
  errors,
  backingOpened,
  backingClosed,
  /** Requests by the transport that carried them. */
  viaDevfuse,
  viaUring,
  /** Times a worker woke for a /dev/fuse request another worker had already taken. */
  devfuseEmptyWakeups,
  /** Opens refused because their rule wants mediated I/O while the inode is in passthrough. */
  modeConflicts,
  /** Opens refused because the audit log failed (--audit-failure deny). */
  auditDenied,
  /** Mediated reads and writes done at once (cached data, or a lower fs that cannot write without blocking). */
  ioInline,
  /** Mediated reads, writes, fsyncs and fallocates sent to io_uring (the async engine). */
  ioAsync,
  /** Policy decisions, and the microseconds they took (path, rules, lazy reads; not the audit write). */
  policyDecisions,
  policyMicros,
  /** Directories the lower directory's watch could not mark (fanotify_mark failed: changes beside the mount there are seen after the timeouts). */
  watchMarkFailures,
  /** Fallback reasons by errno: FALLBACK_BASE + errno (errnos from FALLBACK_ERRNOS on share slot 0). */
  FALLBACK_BASE,
  /** Policy rule hits: RULE_BASE + rule index; the default's at RULE_BASE + MAX_RULES. */
  RULE_BASE = FALLBACK_BASE + FALLBACK_ERRNOS,
  /** Request service times by opcode: LAT_BASE + opcode * LAT_BUCKETS + bucket (latencyBucket). */
  LAT_BASE = RULE_BASE + MAX_RULES + 1,
  /** Their sum in microseconds: LAT_SUM_BASE + opcode. */
  LAT_SUM_BASE = LAT_BASE + OP_SLOTS * LAT_BUCKETS,
  /** A worker's row: every counter above, each slot once. */
  STRIDE = LAT_SUM_BASE + OP_SLOTS,
}

/**
 * The upper bounds of the latency buckets, in microseconds: 1, 2, 4 ... 2^20
 * (about a second); one bucket more holds the longer ones.
 */
export const LAT_BOUNDS_US: readonly number[] = Array.from({ length: LAT_BUCKETS - 1 }, (_, b) => 2 ** b);

/** Count one request of opcode `op` that took `us` microseconds, from the request's arrival in the daemon to its reply. */
export function observeLatency(stats: Float64Array, op: number, us: number): void {
  // Bucket b holds times under 2^b µs: b = the bit length of the whole microseconds.
  const b = us >= LAT_BOUNDS_US[LAT_BUCKETS - 2] ? LAT_BUCKETS - 1 : us < 1 ? 0 : 32 - Math.clz32(us);
  stats[C.LAT_BASE + op * LAT_BUCKETS + b]++;
  stats[C.LAT_SUM_BASE + op] += us;
}
