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
  /** A worker's row: every counter above, each slot once. */
  STRIDE = RULE_BASE + MAX_RULES + 1,
}
