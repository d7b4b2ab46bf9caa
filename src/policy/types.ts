// The types shared by the policy modules and their callers (the daemon's
// open/create path, the CLI's `policy explain`).

export type FileType = 'file' | 'dir' | 'symlink' | 'other';
export const FILE_TYPES: readonly FileType[] = ['file', 'dir', 'symlink', 'other'];

export type Action = 'passthrough' | 'mediated' | 'deny';
export const ACTIONS: readonly Action[] = ['passthrough', 'mediated', 'deny'];

/**
 * Access mode keywords of `match.mode`:
 * - read: the open reads (O_RDONLY or O_RDWR); write: it writes (O_WRONLY or O_RDWR)
 * - read-write: both (O_RDWR); read-only: O_RDONLY; write-only: O_WRONLY
 * - create: the request creates the file (FUSE CREATE); truncate: O_TRUNC
 */
export type ModeKeyword = 'read' | 'write' | 'read-write' | 'read-only' | 'write-only' | 'create' | 'truncate';
export const MODE_KEYWORDS: readonly ModeKeyword[] = ['read', 'write', 'read-write', 'read-only', 'write-only', 'create', 'truncate'];

/** What an open asks for. */
export interface Access {
  read: boolean;
  write: boolean;
  /** The request creates the file. */
  create: boolean;
  /** O_TRUNC. */
  truncate: boolean;
}

/** The calling process, from /proc (see processInfo). */
export interface ProcessInfo {
  /** The process name (/proc/<tgid>/comm, at most 15 bytes), undefined if unknown. */
  comm?: string;
  /** The executable (readlink /proc/<pid>/exe), undefined if unknown (kernel threads, vanished). */
  exe?: string;
}

/**
 * What most path globs need of a path (see `PolicyNeeds.path`): its last
 * part, its first part and how many parts it has. "a/b/c.txt" is
 * { name: "c.txt", top: "a", depth: 3 }; the root is { "", "", 0 }.
 */
export interface PathView {
  name: string;
  top: string;
  depth: number;
}

/** Everything a rule can look at, for one open or create. */
export interface OpenContext {
  /** Relative to the mount root, no leading slash, no `.`/`..` parts, single slashes. */
  path: string;
  /**
   * The path's parts, given instead of building the path string (the daemon
   * does this when `needs.path` is "view"). When set it must describe the
   * path, and decide() reads it instead of `path`; otherwise it is derived
   * from `path`. Ignored when `needs.path` is "full".
   */
  view?: PathView;
  type: FileType;
  uid: number;
  gid: number;
  pid: number;
  /** Process name; needed only when `policy.needs.process` (or supply `lazy.process`). */
  comm?: string;
  /** Executable path; needed only when `policy.needs.process` (or supply `lazy.process`). */
  exe?: string;
  access: Access;
  /** File size in bytes (0 for a create); needed only when `policy.needs.size`. */
  size: number;
  /** The file's first bytes (up to `policy.needs.content`); absent = unknown, content rules fail. */
  content?: Uint8Array;
  /**
   * Optional lazy sources, called at most once per decide() and only when a rule
   * that is actually reached needs the value and the field above is undefined.
   * Lets the caller skip /proc reads and the content read when an earlier rule decides.
   */
  lazy?: {
    process?: () => ProcessInfo;
    /** Replaces `size` when a reached rule has a size condition. */
    size?: () => number;
    content?: (bytes: number) => Uint8Array | undefined;
  };
}

export interface Decision {
  action: Action;
  /** Mediated with every read and write audited. */
  audit: boolean;
  /** The errno to return (positive), 0 unless deny. */
  errno: number;
  /** The rule's name, or 'default'. */
  rule: string;
  /** The rule's position (0-based), -1 for the default. */
  ruleIndex: number;
  /** Human-readable: which rule decided and what it matches. */
  reason: string;
}

/** What decide() may look at, over all reachable rules: the caller can skip the rest. */
export interface PolicyNeeds {
  /**
   * How much of the path the rules read: "none" (no path rule), "view"
   * (every path glob is of a shape that needs only the path's last part,
   * first part and depth: OpenContext.view will do), or "full".
   */
  path: 'none' | 'view' | 'full';
  /** Some rule uses comm or exe: fill OpenContext.comm/exe (processInfo) or lazy.process. */
  process: boolean;
  /** Some rule uses comm. */
  comm: boolean;
  /** Some rule uses exe. */
  exe: boolean;
  /** Bytes of content wanted by content rules, 0 if none. */
  content: number;
  /** Some rule uses size. */
  size: boolean;
}

/** A rule as the daemon and CLI see it (index = Decision.ruleIndex). */
export interface RuleInfo {
  index: number;
  name: string;
  /** Line of the rule in the policy file. */
  line: number;
  action: Action;
  audit: boolean;
  errno: number;
  /** One-line description of what the rule matches. */
  summary: string;
}
