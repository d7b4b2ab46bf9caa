// The status document: what `passfs status MNT --json` prints, what the
// daemon's control socket answers to "status", and what the bench reads. One
// type, used by all three (server/daemon.ts builds it, cli/status.ts prints
// it, bench/mounts.ts reads it). Fields are added, never renamed: scripts
// and monitoring read them; `version` changes if one ever must be.
import type { StatsSummary } from './stats.js';
import type { Action as PolicyAction } from '../policy/index.js';
import type { Capabilities } from '../fuse/init.js';
import type { WatchCounts } from '../fs/watch.js';

export interface WorkerStatus {
  index: number;
  threadId: number;
  tid: number;
  running: boolean;
  restarts: number;
  /** Took over the io_uring queues of a worker that died. */
  adoptedQueues: boolean;
}

export interface PolicyStatus {
  file: string;
  digest: string;
  loadedAt: string | undefined;
  rules: { name: string; line: number; action: PolicyAction; audit: boolean; hits: number }[];
  default: { action: PolicyAction; hits: number };
  /** What deciding costs the daemon per open or create, on average since the mount. */
  decisions: number;
  microsPerDecision: number;
}

export interface OpenFileStatus {
  /** Relative to LOWER. */
  path: string;
  nodeid: number;
  mode: 'passthrough' | 'mediated';
  opens: number;
  opener: { pid: number; uid: number; comm: string | null };
}

export interface DaemonStatus extends Omit<StatsSummary, 'watchMarkFailures'> {
  version: 1;
  pid: number;
  lower: string;
  mountpoint: string;
  startedAt: string;
  /** 0 for the daemon that mounted; each restart in place (passfs restart, or a successor after a crash) one more (server/handover.ts). */
  generation: number;
  /** When the mount was made (by the first daemon). */
  mountedAt: string;
  /** For a successor: the daemon it took over from, when, and what it could not carry over. */
  takeover: { fromPid: number; at: string; reopenedFiles: number; failedFiles: number; lostInodes: number; resent: boolean } | null;
  /** The connection and state are in systemd's fd store (a crash is recovered by a successor). */
  fdStore: boolean;
  uptimeSeconds: number;
  io: 'passthrough' | 'mediated';
  /** mount(2) flags of the FUSE mount, comma-separated (README, "Mount options"). */
  mountOptions: string;
  /** The entry and attribute timeout the kernel is given (README, "Caching"). */
  timeoutMs: number;
  /** The lower directory's watch (fs/watch.ts): its counters, or why it is off. */
  watch: ({ on: true; markFailures: number } & WatchCounts) | { on: false; why: string };
  transport: 'uring' | 'devfuse';
  mediatedEngine: 'sync' | 'async';
  uring: { queues: number; queueDepth: number; payloadSize: number; pinned: boolean } | null;
  workers: { count: number; alive: number; restarts: number; list: WorkerStatus[] };
  /** What the kernel agreed to at INIT (fuse/init.ts). */
  capabilities: Capabilities;
  /** Inodes held; the table's size; the most held at once (below the file limit); the last of them kept for root; descriptors held for open files. */
  /**
   * The inode table (fs/inodes.ts): slots in use of capacity (limit: the
   * most held at once, rootReserve of them root's); descriptors held for
   * open files (openFds) and cached for inodes (cachedFds), together within
   * fdBudget; inode descriptors reopened by file handle and closed to stay
   * within it, since start.
   */
  inodes: {
    inUse: number; capacity: number; limit: number; rootReserve: number;
    openFds: number; cachedFds: number; fdBudget: number; reopened: number; evicted: number;
  };
  policy: PolicyStatus | null;
  audit: { dest: string; onFailure: string } | null;
  openFiles: OpenFileStatus[];
}
