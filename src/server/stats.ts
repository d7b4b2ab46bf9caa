// The counters' memory and their summary: the workers count into rows of it
// (the slots are in io/counters.ts), the main thread sums the rows when asked.
// Each worker owns one row, so counting is a plain array increment with no
// atomics.
import { OP_SLOTS, opNames } from '../fuse/opcodes.js';
import { C, FALLBACK_ERRNOS, LAT_BOUNDS_US, LAT_BUCKETS, MAX_RULES } from '../io/counters.js';

export function allocateStats(workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer(workers * C.STRIDE * 8);
}

/** A worker's row. */
export function statsRow(mem: SharedArrayBuffer, worker: number): Float64Array {
  return new Float64Array(mem, worker * C.STRIDE * 8, C.STRIDE);
}

export interface StatsSummary {
  requests: Record<string, number>;
  opens: {
    passthrough: number; mediated: number; fallback: number; denied: number;
    privilegedMediated: number; joinedInodeMode: number; modeConflicts: number; auditDenied: number;
  };
  /** Hits by rule index (the last entry is the default). */
  ruleHits: number[];
  fallbackReasons: Record<string, number>;
  bytes: { read: number; written: number };
  errors: number;
  backing: { opened: number; closed: number; live: number };
  /** Requests by transport; emptyWakeups: /dev/fuse wake-ups that found the request taken by another worker. */
  transports: { devfuse: number; uring: number; emptyWakeups: number };
  /** How mediated I/O was done: at once in the worker, or through io_uring. */
  mediatedIo: { inline: number; async: number };
  policyCost: { decisions: number; micros: number };
  /** Directories the lower directory's watch could not mark (reported under status.watch). */
  watchMarkFailures: number;
  latency: LatencySummary;
}

/**
 * How long requests took in the daemon, from arrival to reply, by opcode
 * (the ones seen): counts per bucket (bucket i: under boundsMicros[i]; the
 * last: longer), their sum in microseconds.
 */
export interface LatencySummary {
  boundsMicros: readonly number[];
  byOpcode: Record<string, { count: number; sumMicros: number; buckets: number[] }>;
}

export function summarize(mem: SharedArrayBuffer, errnoName: (e: number) => string): StatsSummary {
  const all = new Float64Array(mem);
  const rows = all.length / C.STRIDE;
  const sum = new Float64Array(C.STRIDE);
  for (let r = 0; r < rows; r++) for (let i = 0; i < C.STRIDE; i++) sum[i] += all[r * C.STRIDE + i];
  const requests: Record<string, number> = {};
  for (let op = 0; op < OP_SLOTS; op++) {
    const name = opNames[op];
    if (name) requests[name] = sum[op];
    else if (sum[op]) requests[`OP_${op}`] = sum[op];
  }
  const fallbackReasons: Record<string, number> = {};
  for (let e = 0; e < FALLBACK_ERRNOS; e++) if (sum[C.FALLBACK_BASE + e]) fallbackReasons[errnoName(e)] = sum[C.FALLBACK_BASE + e];
  return {
    requests,
    opens: {
      passthrough: sum[C.openPassthrough],
      mediated: sum[C.openMediated],
      fallback: sum[C.openFallback],
      denied: sum[C.openDenied],
      privilegedMediated: sum[C.privMediated],
      joinedInodeMode: sum[C.modeJoined],
      modeConflicts: sum[C.modeConflicts],
      auditDenied: sum[C.auditDenied],
    },
    ruleHits: Array.from(sum.subarray(C.RULE_BASE, C.RULE_BASE + MAX_RULES + 1)),
    fallbackReasons,
    bytes: { read: sum[C.bytesRead], written: sum[C.bytesWritten] },
    errors: sum[C.errors],
    transports: { devfuse: sum[C.viaDevfuse], uring: sum[C.viaUring], emptyWakeups: sum[C.devfuseEmptyWakeups] },
    mediatedIo: { inline: sum[C.ioInline], async: sum[C.ioAsync] },
    policyCost: { decisions: sum[C.policyDecisions], micros: sum[C.policyMicros] },
    watchMarkFailures: sum[C.watchMarkFailures],
    latency: latencyOf(sum),
    backing: { opened: sum[C.backingOpened], closed: sum[C.backingClosed], live: sum[C.backingOpened] - sum[C.backingClosed] },
  };
}

function latencyOf(sum: Float64Array): LatencySummary {
  const byOpcode: LatencySummary['byOpcode'] = {};
  for (let op = 0; op < OP_SLOTS; op++) {
    const b = C.LAT_BASE + op * LAT_BUCKETS;
    const buckets = Array.from(sum.subarray(b, b + LAT_BUCKETS));
    const count = buckets.reduce((a, n) => a + n, 0);
    if (count > 0) byOpcode[opNames[op] ?? `OP_${op}`] = { count, sumMicros: Math.round(sum[C.LAT_SUM_BASE + op]), buckets };
  }
  return { boundsMicros: LAT_BOUNDS_US, byOpcode };
}
