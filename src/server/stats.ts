// Counters shared between the workers (which count) and the main thread (which
// reports). Each worker owns one row, so counting is a plain array increment
// with no atomics; the main thread sums the rows when asked.
import { OP_SLOTS, opNames } from '../fuse/abi.js';

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
  /** Fallback reasons by errno: FALLBACK_BASE + errno. */
  FALLBACK_BASE = OP_SLOTS + 24,
  /** Policy rule hits: RULE_BASE + rule index; the default's at RULE_BASE + MAX_RULES. */
  RULE_BASE = OP_SLOTS + 24 + 160,
  STRIDE = OP_SLOTS + 24 + 160 + 257,
}

/** Rules beyond this many share the default's counter (and the loader's limit keeps policies far below it). */
export const MAX_RULES = 256;

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
  for (let e = 0; e < 160; e++) if (sum[C.FALLBACK_BASE + e]) fallbackReasons[errnoName(e)] = sum[C.FALLBACK_BASE + e];
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
    backing: { opened: sum[C.backingOpened], closed: sum[C.backingClosed], live: sum[C.backingOpened] - sum[C.backingClosed] },
  };
}
