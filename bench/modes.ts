// The modes the bench compares. One entry per mode: `native` runs the jobs on
// the lower directory itself; every other mode mounts the same lower directory
// with `passfs mount LOWER MNT <args>` and runs the jobs through the mount.
// A new daemon configuration is one more line here, then `--modes name,...`.

export interface Mode {
  name: string;
  /** passfs mount arguments after LOWER MNT; null for native (no mount). */
  mount: string[] | null;
  /** The mode needs FUSE-over-io_uring switched on in the kernel (a global switch the bench sets and restores). */
  uring?: boolean;
  description: string;
}

export const MODES: readonly Mode[] = [
  { name: 'native', mount: null, description: 'the lower directory itself, no FUSE' },
  // The transport is pinned: the daemon's default ("auto") follows a global
  // kernel switch that other processes (the test suite) turn on and off.
  { name: 'passthrough', mount: ['--io', 'passthrough', '--transport', 'devfuse'], description: 'FUSE passthrough: reads and writes go from the kernel to the lower file' },
  { name: 'mediated', mount: ['--io', 'mediated', '--transport', 'devfuse'], description: 'every read and write served by the daemon (its default engine)' },
  { name: 'mediated-sync', mount: ['--io', 'mediated', '--transport', 'devfuse', '--mediated', 'sync'], description: 'mediated, synchronous pread/pwrite in the workers' },
  { name: 'mediated-async', mount: ['--io', 'mediated', '--transport', 'devfuse', '--mediated', 'async'], description: 'mediated, asynchronous engine' },
  { name: 'passthrough-uring', mount: ['--io', 'passthrough', '--transport', 'uring'], uring: true, description: 'passthrough, requests over FUSE-over-io_uring' },
  { name: 'mediated-uring', mount: ['--io', 'mediated', '--transport', 'uring'], uring: true, description: 'mediated (default engine), requests over FUSE-over-io_uring' },
  { name: 'mediated-sync-uring', mount: ['--io', 'mediated', '--transport', 'uring', '--mediated', 'sync'], uring: true, description: 'mediated, synchronous pread/pwrite, requests over FUSE-over-io_uring' },
  { name: 'mediated-async-uring', mount: ['--io', 'mediated', '--transport', 'uring', '--mediated', 'async'], uring: true, description: 'mediated, io_uring engine, requests over FUSE-over-io_uring' },
  // A realistic mixed policy (bench/policies/mixed.yaml): what per-open decisions cost next to plain passthrough.
  { name: 'policy', mount: ['--policy', new URL('./policies/mixed.yaml', import.meta.url).pathname, '--transport', 'devfuse'], description: 'per-file policy: mostly passthrough, some mediated and denied' },
];

export const DEFAULT_MODES = ['native', 'passthrough', 'mediated'];

/** Look up modes by name; throws with the known names on an unknown one. */
export function resolveModes(names: string[]): Mode[] {
  const out: Mode[] = [];
  for (const n of names) {
    const m = MODES.find((x) => x.name === n);
    if (!m) throw new Error(`unknown mode "${n}" (known: ${MODES.map((x) => x.name).join(', ')})`);
    if (!out.includes(m)) out.push(m);
  }
  if (out.length === 0) throw new Error('no modes given');
  return out;
}
