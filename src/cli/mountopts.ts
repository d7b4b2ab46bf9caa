// mount(8)-style options: `-o allow_other,io=mediated,policy=/etc/p.yaml`,
// as `mount -t fuse.passfs`, an /etc/fstab line or `passfs mount -o` give
// them. Each is turned into the `passfs mount` flag it stands for, so that
// both spellings are checked by the one option parser (main.ts); the usual
// mount and FUSE options that concern mount(8), systemd or the kernel's
// defaults are accepted and ignored, anything else is a one-line error.

/** key -> the flag it stands for; a key with a value takes it as the flag's argument. */
const FLAGS: Record<string, { flag: string; value: boolean }> = {
  allow_other: { flag: '--allow-other', value: false },
  suid: { flag: '--suid', value: false },
  dev: { flag: '--dev', value: false },
  noexec: { flag: '--noexec', value: false },
  ro: { flag: '--ro', value: false },
  noatime: { flag: '--noatime', value: false },
  nodiratime: { flag: '--nodiratime', value: false },
  strictatime: { flag: '--strictatime', value: false },
  io: { flag: '--io', value: true },
  workers: { flag: '--workers', value: true },
  transport: { flag: '--transport', value: true },
  mediated: { flag: '--mediated', value: true },
  queue_depth: { flag: '--queue-depth', value: true },
  payload_size: { flag: '--payload-size', value: true },
  pin: { flag: '--pin', value: true },
  attr_timeout: { flag: '--attr-timeout', value: true },
  watch: { flag: '--watch', value: true },
  max_inodes: { flag: '--max-inodes', value: true },
  policy: { flag: '--policy', value: true },
  audit: { flag: '--audit', value: true },
  audit_failure: { flag: '--audit-failure', value: true },
  audit_mode: { flag: '--audit-mode', value: true },
  metrics: { flag: '--metrics', value: true },
  stop_timeout: { flag: '--stop-timeout', value: true },
  log_level: { flag: '--log-level', value: true },
  debug: { flag: '--debug', value: false },
};

/**
 * Accepted and ignored: what passfs does anyway (rw, nosuid, nodev, exec,
 * relatime: the defaults; default_permissions: always on), and what is
 * mount(8)'s, the fstab's or systemd's business (x-*, comment=: see `IGNORED_PREFIXES`).
 */
const IGNORED = new Set([
  'defaults', 'rw', 'nosuid', 'nodev', 'exec', 'atime', 'relatime', 'diratime', 'default_permissions',
  'auto', 'noauto', 'user', 'nouser', 'users', 'owner', 'group', '_netdev', 'nofail', 'async',
]);
const IGNORED_PREFIXES = ['x-', 'comment=', 'fsname=', 'subtype='];

/** The `passfs mount` flags an option list stands for; throws an Error with a one-line message for an unknown or malformed one. */
export function mountOptionFlags(list: string): string[] {
  const out: string[] = [];
  for (const raw of list.split(',')) {
    const opt = raw.trim();
    if (opt === '' || IGNORED.has(opt) || IGNORED_PREFIXES.some((p) => opt.startsWith(p))) continue;
    const eq = opt.indexOf('=');
    const key = (eq < 0 ? opt : opt.slice(0, eq)).replace(/-/g, '_');
    const f = FLAGS[key];
    if (!f) throw new Error(`-o ${opt}: unknown option (known: ${Object.keys(FLAGS).join(', ')}; README, "Deploying")`);
    if (f.value !== eq >= 0) throw new Error(f.value ? `-o ${key}: needs a value (${key}=...)` : `-o ${opt}: takes no value`);
    out.push(f.flag);
    if (f.value) out.push(opt.slice(eq + 1));
  }
  return out;
}

/**
 * `argv` (after the command name) with every `-o LIST`, `-oLIST` and
 * `--options LIST` replaced by the flags it stands for.
 */
export function expandOptionArgs(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-o' || a === '--options') {
      if (i + 1 >= argv.length) throw new Error(`${a}: needs an option list`);
      out.push(...mountOptionFlags(argv[++i]));
    } else if (a.startsWith('-o') && !a.startsWith('--')) {
      out.push(...mountOptionFlags(a.slice(2)));
    } else if (a.startsWith('--options=')) {
      out.push(...mountOptionFlags(a.slice('--options='.length)));
    } else {
      out.push(a);
    }
  }
  return out;
}

/**
 * The arguments mount(8) gives a helper (`mount.fuse.passfs SOURCE DIR
 * [-sfnv] [-o OPTS]`) as `passfs mount` arguments: -s (sloppy), -n (no
 * mtab) and -v mean nothing here; -f (fake) means do nothing (null).
 */
export function helperArgs(argv: string[]): string[] | null {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (/^-[sfnv]+$/.test(a)) {
      if (a.includes('f')) return null;
      continue;
    }
    out.push(a);
    if (a === '-o' && i + 1 < argv.length) out.push(argv[++i]);
  }
  return expandOptionArgs(out);
}
