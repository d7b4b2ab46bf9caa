// The passfs command line. Argument parsing is commander's; each command is a
// thin call into the daemon or the control socket.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { Daemon, DaemonOptions, UserError, defaultWorkers, preflight, log } from '../server/daemon.js';
import { ask, openLog, pruneRunDir, removeOwnLog, RUN_DIR } from '../server/control.js';
import { FSTYPE, mountAt } from '../server/mounts.js';
import { native } from '../native/index.js';
import { printStatus, watchStatus } from './status.js';
import type { DaemonStatus } from '../server/status.js';
import { runDemo } from './demo.js';
import { loadPolicyFile, makeContext, explain, PolicyError } from '../policy/index.js';
import { expandOptionArgs, helperArgs } from './mountopts.js';
import { parseValue } from '../policy/ranges.js';
import { installHelper, packageVersion, removeHelper, versionLines } from './install.js';
import { bashCompletion, manPage } from './docs.js';
import { notify, serviceUnit } from '../server/systemd.js';
import { LEVELS, type Level } from '../server/logging.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/passfs.js');

function int(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

/** A number of seconds, fractions allowed (0.1 to an hour). */
function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0.1 || n > 3600) throw new InvalidArgumentError('expected seconds from 0.1 to 3600');
  return n;
}

/** An octal file mode for the audit file: at most rw for anyone, never writable by group or others. */
function fileMode(v: string): number {
  if (!/^0?[0-7]{3}$/.test(v)) throw new InvalidArgumentError('expected an octal mode such as 0600 or 0640');
  const m = parseInt(v, 8);
  if (m & 0o133) throw new InvalidArgumentError('an audit file must not be executable, nor writable by group or others');
  return m;
}

/** A size as the policy writes it (docs/policy.md: 4K, 1.5M, 64M). */
function sizeArg(v: string): number {
  const r = parseValue(v, 'size');
  if (!r.ok) throw new InvalidArgumentError(r.reason);
  return r.n;
}

/** Print what `what` reports as one "passfs: ..." line, or fail with its error. */
function say(what: () => string): void {
  try {
    process.stdout.write(`passfs: ${what()}\n`);
  } catch (e) {
    fail((e as Error).message);
  }
}

function fail(msg: string): never {
  process.stderr.write(`passfs: ${msg}\n`);
  process.exit(1);
}

interface MountFlags {
  foreground?: boolean;
  io: 'passthrough' | 'mediated';
  workers: number;
  allowOther?: boolean;
  attrTimeout?: number;
  watch: 'on' | 'off';
  maxInodes: number;
  transport: 'auto' | 'uring' | 'devfuse';
  mediated: 'sync' | 'async';
  queueDepth: number;
  payloadSize: number;
  pin: 'auto' | 'on' | 'off';
  policy?: string;
  audit?: string;
  auditFailure: 'deny' | 'continue';
  auditMode: number;
  suid?: boolean;
  dev?: boolean;
  noexec?: boolean;
  noatime?: boolean;
  nodiratime?: boolean;
  strictatime?: boolean;
  metrics?: string;
  stopTimeout: number;
  ro?: boolean;
  readyFd?: number;
  logLevel: Level;
  debug?: boolean;
}

function toOptions(lower: string, mountpoint: string, f: MountFlags): DaemonOptions {
  return {
    lower: path.resolve(lower),
    mountpoint: path.resolve(mountpoint),
    io: f.io,
    workers: f.workers,
    allowOther: !!f.allowOther,
    validMs: f.attrTimeout ?? null,
    watch: f.watch === 'on',
    maxInodes: f.maxInodes,
    transport: f.transport,
    mediated: f.mediated,
    queueDepth: f.queueDepth,
    payloadSize: f.payloadSize,
    pin: f.pin,
    policy: f.policy ? path.resolve(f.policy) : null,
    audit: f.audit ? (f.audit === '-' ? '-' : path.resolve(f.audit)) : null,
    metrics: f.metrics ?? null,
    auditFailure: f.auditFailure,
    auditMode: f.auditMode,
    logLevel: f.debug ? 'debug' : f.logLevel,
    mountOptions: { suid: !!f.suid, dev: !!f.dev, noexec: !!f.noexec, ro: !!f.ro, noatime: !!f.noatime, nodiratime: !!f.nodiratime, strictatime: !!f.strictatime },
  };
}

async function foreground(o: DaemonOptions, readyFd?: number, stopTimeout = 10): Promise<void> {
  const ready = (line: string) => {
    if (readyFd === undefined) return;
    try {
      fs.writeSync(readyFd, line + '\n');
      fs.closeSync(readyFd);
    } catch { /* the parent is gone: nothing to tell */ }
  };
  // Signals are caught from the start: one arriving while the mount comes up
  // is acted on as soon as it is up, so a mount is never left behind.
  let d: Daemon | undefined;
  let pending: string | undefined;
  let detached = false;
  const onSignal = (sig: string) => {
    if (!d) {
      pending = sig;
      return;
    }
    if (detached) {
      // A second signal while a busy mount is being served: end now.
      log(`${sig}: ending with files still open (they answer ENOTCONN from now on)`, 'warn');
      process.exit(0);
    }
    log(`${sig}: unmounting ${d.mountpoint}`);
    notify('STOPPING=1');
    const r = d.unmount();
    if (!r.ok) log(`unmount failed: ${r.error}`, 'error');
    else if (r.lazy) {
      // Busy: detached, and served for stopTimeout seconds at most, so that a stop is bounded.
      detached = true;
      setTimeout(() => {
        log(`files still open ${stopTimeout} s after ${sig}: ending (they answer ENOTCONN from now on)`, 'warn');
        process.exit(0);
      }, stopTimeout * 1000).unref();
    }
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGHUP', () => {
    if (!d) return;
    const r = d.reload();
    if (!r.ok) log(`SIGHUP: ${r.error}`, 'warn');
  });
  try {
    // A restart gives the successor the same arguments (server/handover.ts).
    d = await Daemon.start({ ...o, argv: process.argv.slice(1), onStandby: () => { if (readyFd !== undefined) fs.writeSync(readyFd, 'standby\n'); } });
  } catch (e) {
    const msg = e instanceof UserError ? e.message : (e as Error).stack ?? String(e);
    ready(`error: ${msg}`);
    fail(msg);
  }
  log(`serving ${d.lower} at ${d.mountpoint} (io ${o.io}${o.io === 'passthrough' && !d.caps.passthrough ? ' unavailable: mediated' : ''}, ${o.workers} workers, transport ${d.transport}, mediated engine ${o.mediated})`);
  ready('ok');
  notify('READY=1', `STATUS=serving ${d.lower} at ${d.mountpoint}`, `MAINPID=${process.pid}`);
  if (pending) onSignal(pending);
  const { successor } = await d.wait();
  if (successor) {
    // passfs restart: the mount lives on in the successor, which writes to the same log.
    log(`${d.mountpoint} is served by pid ${successor} now; ending`);
    process.exit(0);
  }
  log(`${d.mountpoint} unmounted`);
  // A clean end: the log of a background daemon goes (one that failed keeps its log for whoever looks into it).
  removeOwnLog(d.mountpoint);
  process.exit(0);
}

/** Start the daemon in the background; return once its mount is live (or print why not). */
async function background(lower: string, mountpoint: string, o: DaemonOptions, argv: string[]): Promise<void> {
  try {
    preflight(o);
  } catch (e) {
    fail((e as Error).message);
  }
  fs.mkdirSync(RUN_DIR, { recursive: true, mode: 0o700 });
  await pruneRunDir();
  const { fd: out, path: logFile } = openLog(fs.realpathSync(o.mountpoint));
  const child = spawn(process.execPath, [BIN, 'mount', lower, mountpoint, ...argv, '--foreground', '--ready-fd', '3'], {
    detached: true,
    stdio: ['ignore', out, out, 'pipe'],
  });
  fs.closeSync(out);
  let answer = '';
  const pipe = child.stdio[3] as NodeJS.ReadableStream;
  pipe.setEncoding('utf8');
  const result = await new Promise<string>((resolve) => {
    pipe.on('data', (d: string) => {
      answer += d;
      if (answer.includes('\n')) resolve(answer.trim());
    });
    child.on('exit', (code) => resolve(answer.trim() || `error: daemon exited (${code}) before the mount was live; see ${logFile}`));
  });
  if (result !== 'ok') fail(result.replace(/^error: /, ''));
  child.unref();
  (pipe as unknown as { destroy(): void }).destroy();
  process.stdout.write(`passfs: ${o.lower} mounted at ${o.mountpoint} (pid ${child.pid}, log ${logFile})\n`);
}

/** The mount flags as given, minus the ones only the parent uses, for the background child. */
function passOn(f: MountFlags): string[] {
  const a = ['--io', f.io, '--workers', String(f.workers), '--watch', f.watch, '--max-inodes', String(f.maxInodes),
    '--transport', f.transport, '--mediated', f.mediated, '--queue-depth', String(f.queueDepth), '--payload-size', String(f.payloadSize), '--pin', f.pin];
  if (f.attrTimeout !== undefined) a.push('--attr-timeout', String(f.attrTimeout));
  if (f.allowOther) a.push('--allow-other');
  if (f.policy) a.push('--policy', path.resolve(f.policy));
  if (f.audit) a.push('--audit', f.audit === '-' ? '-' : path.resolve(f.audit));
  if (f.metrics) a.push('--metrics', f.metrics);
  a.push('--stop-timeout', String(f.stopTimeout), '--log-level', f.debug ? 'debug' : f.logLevel);
  a.push('--audit-failure', f.auditFailure, '--audit-mode', f.auditMode.toString(8).padStart(4, '0'));
  for (const o of ['suid', 'dev', 'noexec', 'ro', 'noatime', 'nodiratime', 'strictatime'] as const) if (f[o]) a.push(`--${o}`);
  return a;
}

async function unmount(mountpoint: string): Promise<void> {
  const real = existingMountpoint(mountpoint);
  let r: { ok: boolean; lazy?: boolean; pid?: number; error?: string };
  try {
    r = await ask(real, { cmd: 'umount' });
  } catch {
    // No daemon answers (it died): remove the stale mount directly, if it is ours.
    const m = mountAt(real);
    if (!m) fail(`${real} is not mounted`);
    if (m.fstype !== FSTYPE) fail(`${real} is not a passfs mount (it is ${m.fstype}): not unmounting it`);
    const e = native.umount2(real, 0);
    if (e < 0) fail(`umount ${real}: ${native.errnoName(-e)}`);
    process.stdout.write(`passfs: ${real} unmounted (no daemon was serving it)\n`);
    return;
  }
  if (!r.ok) fail(`umount ${real}: ${r.error}`);
  // Return once the daemon has finished (unless it must keep serving a detached mount).
  if (!r.lazy && r.pid) await waitExit(r.pid, 30_000);
  process.stdout.write(`passfs: ${real} ${r.lazy ? 'detached (busy; the daemon exits when its files are closed)' : 'unmounted'}\n`);
}

/** The real path of a mount point given on the command line; a clear error when it does not exist. */
function existingMountpoint(mountpoint: string): string {
  const mnt = path.resolve(mountpoint);
  try {
    return fs.realpathSync(mnt);
  } catch (e) {
    // A FUSE mount whose daemon died answers ENOTCONN to everything, its own
    // stat included: resolve its directory instead, so that umount can remove it.
    // A mount without allow_other answers EACCES to everyone but root: the same (the daemon's socket then says it is root's).
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTCONN' || code === 'EACCES') return path.join(fs.realpathSync(path.dirname(mnt)), path.basename(mnt));
    fail(`mount point ${mnt} does not exist`);
  }
}

async function waitExit(pid: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    // Gone, or a zombie nobody has reaped yet (its parent, the mount command, has exited).
    let state: string;
    try {
      state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
    } catch {
      return;
    }
    if (state === 'Z' || state === 'X') return;
    if (Date.now() > end) fail(`daemon ${pid} did not exit after unmounting`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const program = new Command('passfs')
  .description('FUSE passthrough daemon: mirror a directory, kernel passthrough or mediated I/O per file')
  .showHelpAfterError('(run with --help for usage)')
  // A reader that stops early (`passfs status MNT | head -3`) is not an
  // error: the command ends quietly, as Unix tools do. Not for mount: a
  // foreground daemon may audit to stdout, and --audit-failure decides that.
  .hook('preAction', (_, cmd) => {
    if (cmd.name() === 'mount') return;
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      fail(`writing the output: ${e.message}`);
    });
  });

program
  .command('mount')
  .description('mount LOWER at MOUNTPOINT; returns once the mount is live (or stays in the foreground with -f)')
  .argument('<lower>', 'the directory to mirror')
  .argument('<mountpoint>', 'where to mount it')
  .option('-f, --foreground', 'stay in the foreground; SIGINT/SIGTERM unmount')
  .option('-o, --options <list>', 'mount(8)-style options: allow_other, ro, noatime, ... and every option below as key=value (io=mediated, policy=FILE; README, "Deploying")')
  .addOption(new Option('--io <mode>', 'I/O for every file').choices(['passthrough', 'mediated']).default('passthrough'))
  .addOption(new Option('--workers <n>', 'worker threads').argParser(int(1, 64)).default(defaultWorkers(), 'one per CPU'))
  .option('--allow-other', 'let users other than root use the mount (permissions are still checked by the kernel)')
  .option('--suid', 'honour setuid/setgid bits and file capabilities on exec (default: nosuid; refused if the lower mount is nosuid)')
  .option('--dev', 'let device nodes be opened (default: nodev; refused if the lower mount is nodev)')
  .option('--noexec', 'forbid execution (always so when the lower mount is noexec)')
  .option('--ro', 'mount read-only (always so when the lower mount is read-only)')
  .option('--noatime', 'leave the lower files\' access times alone (default: the lower mount\'s own rule, relatime usually)')
  .option('--nodiratime', 'leave the lower directories\' access times alone')
  .option('--strictatime', 'update the lower files\' access times at every read')
  .option('--attr-timeout <ms>', 'entry and attribute cache timeout (default: 86400000, a day, with the watch on; 1000 without)', int(0, 7 * 86_400_000))
  .addOption(new Option('--watch <on|off>', 'watch LOWER and tell the kernel of changes made beside the mount').choices(['on', 'off']).default('on'))
  .option('--max-inodes <n>', 'inode table size (a power of two)', int(16, 1 << 26), 1 << 20)
  .addOption(new Option('--transport <t>', 'FUSE-over-io_uring when the kernel offers it, or force one').choices(['auto', 'uring', 'devfuse']).default('auto'))
  .addOption(new Option('--mediated <engine>', 'how mediated reads and writes reach the lower file').choices(['sync', 'async']).default('async'))
  .option('--queue-depth <n>', 'io_uring entries per FUSE queue', int(1, 128), 16)
  .option('--payload-size <bytes>', 'payload buffer of each io_uring entry', int(65536, 1 << 20), 1 << 20)
  .addOption(new Option('--pin <mode>', 'keep each io_uring worker on its queues\' CPUs: when no read or write reaches the workers, i.e. --io passthrough without a policy (auto), always (on), never (off)').choices(['auto', 'on', 'off']).default('auto'))
  .option('--stop-timeout <s>', 'on SIGTERM/SIGINT, serve a busy (detached) mount this long at most, then end', int(0, 86400), 10)
  .option('--metrics <host:port>', 'serve the status counters for Prometheus at http://HOST:PORT/metrics (default off; HOST defaults to 127.0.0.1)')
  .addOption(new Option('--log-level <level>', 'log this and more serious: error, warn, info, debug (debug traces every request)').choices(LEVELS).default('info'))
  .option('-d, --debug', 'the same as --log-level debug: one line per request served, with its result and latency')
  .option('--policy <file>', 'per-file policy (YAML, see docs/policy.md): replaces --io')
  .option('--audit <file>', 'append one JSON line per decision (and audited read/write); - for stdout')
  .addOption(new Option('--audit-failure <what>', 'when the audit log fails').choices(['deny', 'continue']).default('deny'))
  .addOption(new Option('--audit-mode <octal>', 'mode of an audit file passfs creates (no write bits for group or others)').argParser(fileMode).default(0o600, '0600'))
  .addOption(new Option('--ready-fd <fd>').argParser(int(0, 1 << 20)).hideHelp())
  .action(async (lower: string, mountpoint: string, f: MountFlags) => {
    if ((f.maxInodes & (f.maxInodes - 1)) !== 0) fail('--max-inodes must be a power of two');
    const o = toOptions(lower, mountpoint, f);
    if (f.foreground) await foreground(o, f.readyFd, f.stopTimeout);
    else await background(lower, mountpoint, o, passOn(f));
  });

program
  .command('umount')
  .alias('unmount')
  .description('unmount MOUNTPOINT (detaches it if busy: the daemon exits once its files are closed)')
  .argument('<mountpoint>')
  .action(unmount);

program
  .command('restart')
  .description('replace the daemon of MOUNTPOINT by a new process (a newer passfs, say) without unmounting: open files stay open (README, "Restarting in place")')
  .argument('<mountpoint>')
  .action(async (mountpoint: string) => {
    const mnt = existingMountpoint(mountpoint);
    const t0 = performance.now();
    const r = await ask(mnt, { cmd: 'handover' }, 60_000).catch((e: Error) => fail(e.message));
    if (!r.ok) fail(`restart of ${mnt} refused, the daemon serves on: ${r.error}`);
    process.stdout.write(`passfs: ${mnt} restarted in place: served by pid ${r.pid} now (requests waited ${r.pausedMs} ms; ${Math.round(performance.now() - t0)} ms in all)\n`);
  });

program
  .command('status')
  .description('what the daemon of MOUNTPOINT is doing')
  .argument('<mountpoint>')
  .option('--json', 'machine-readable output')
  .option('-w, --watch', 'redraw a live view: requests per second by opcode with their latency, opens by mode, bytes, open files')
  .option('--interval <s>', 'seconds between --watch frames', seconds, 1)
  .option('--count <n>', 'stop after this many --watch frames (default: until interrupted)', int(0, 1 << 30), 0)
  .action(async (mountpoint: string, f: { json?: boolean; watch?: boolean; interval: number; count: number }) => {
    try {
      const mnt = existingMountpoint(mountpoint);
      if (f.watch) {
        if (f.json) fail('--watch and --json do not go together (scrape --metrics, or poll status --json)');
        await watchStatus(() => ask(mnt, { cmd: 'status' }) as Promise<DaemonStatus>, f.interval, f.count);
        return;
      }
      const s = (await ask(mnt, { cmd: 'status' })) as DaemonStatus;
      if (f.json) process.stdout.write(JSON.stringify(s, null, 2) + '\n');
      else printStatus(s);
    } catch (e) {
      fail((e as Error).message);
    }
  });

program
  .command('reload')
  .description('load the policy file of MOUNTPOINT again (SIGHUP does the same); an invalid file is refused and the running policy stays')
  .argument('<mountpoint>')
  .action(async (mountpoint: string) => {
    const r = await ask(existingMountpoint(mountpoint), { cmd: 'reload' }).catch((e: Error) => fail(e.message));
    if (!r.ok) fail(`reload refused, the running policy stays: ${r.error}`);
    process.stdout.write(`passfs: policy reloaded (${r.rules} rules)\n`);
  });

const policyCmd = program.command('policy').description('check and explain policy files, without a mount');
policyCmd
  .command('check')
  .description('validate a policy file')
  .argument('<file>')
  .action((file: string) => {
    try {
      const p = loadPolicyFile(file);
      for (const w of p.warnings) process.stdout.write(`warning: ${w}\n`);
      process.stdout.write(`${file}: ok (${p.rules.length} rules, default ${p.default.action})\n`);
    } catch (e) {
      // Every problem the loader found, one line each (not just the first).
      if (e instanceof PolicyError) {
        const lines = e.lines();
        for (const l of lines.slice(0, -1)) process.stderr.write(`passfs: ${l}\n`);
        fail(lines[lines.length - 1]);
      }
      fail((e as Error).message);
    }
  });
policyCmd
  .command('explain')
  .description('which rule decides an open of PATH (relative to the mount root), and why')
  .argument('<file>')
  .argument('<path>')
  .option('--uid <n>', 'caller uid', int(0, 2 ** 32 - 1), 0)
  .option('--gid <n>', 'caller gid', int(0, 2 ** 32 - 1), 0)
  .option('--pid <n>', 'caller pid', int(0, 2 ** 31 - 1), 0)
  .option('--comm <name>', 'process name')
  .option('--exe <path>', 'executable')
  .option('--mode <spec>', 'access: read, write, rw, create, truncate (comma-separated)', 'read')
  .option('--size <bytes>', 'file size, with the policy\'s units (4K, 1.5M; binary)', sizeArg, 0)
  .option('--type <t>', 'file type', 'file')
  .option('--content <file>', 'take the file\'s first bytes from this file')
  .action((file: string, p: string, f: { uid: number; gid: number; pid: number; comm?: string; exe?: string; mode: string; size: number; type: string; content?: string }) => {
    try {
      const policy = loadPolicyFile(file);
      const ctx = makeContext({ path: p, uid: f.uid, gid: f.gid, pid: f.pid, comm: f.comm, exe: f.exe, mode: f.mode, size: f.size, type: f.type,
        content: f.content ? fs.readFileSync(f.content).subarray(0, Math.max(policy.needs.content, 1)) : undefined });
      for (const line of explain(policy, ctx)) process.stdout.write(line + '\n');
    } catch (e) {
      fail((e as Error).message);
    }
  });

program
  .command('kill-worker', { hidden: true })
  .description('terminate one worker thread as if it had crashed (for drills and tests)')
  .argument('<mountpoint>')
  .option('--index <i>', 'worker index', int(0, 63), 0)
  .action(async (mountpoint: string, f: { index: number }) => {
    const r = await ask(existingMountpoint(mountpoint), { cmd: 'kill-worker', index: f.index }).catch((e: Error) => fail(e.message));
    if (!r.ok) fail(r.error);
    process.stdout.write(`passfs: worker ${f.index} (thread ${r.threadId}) terminated\n`);
  });

program
  .command('demo')
  .description('mount a demo directory twice (passthrough, mediated), do the same I/O, show who served it')
  .option('--size <MiB>', 'file size', int(1, 4096), 64)
  .action(async (f: { size: number }) => {
    await runDemo(BIN, f.size).catch((e: Error) => fail(e.message));
  });

program
  .command('mount-helper', { hidden: true })
  .description('what mount(8) runs for -t fuse.passfs and fstab lines: mount.fuse.passfs SOURCE DIR [-sfnv] [-o OPTS]')
  .allowUnknownOption()
  .action(() => { /* handled before parsing (below) */ });

program
  .command('systemd-unit')
  .description('print a systemd service unit (Type=notify) that mounts LOWER at MOUNTPOINT with the given passfs mount options')
  .argument('<lower>')
  .argument('<mountpoint>')
  .argument('[options...]', 'passfs mount options, e.g. --allow-other --io mediated (after --)')
  .action((lower: string, mountpoint: string, opts: string[]) => {
    process.stdout.write(serviceUnit(process.execPath, BIN, path.resolve(lower), path.resolve(mountpoint), opts));
  });

program
  .command('install-helper')
  .description('put the mount helper in place (/usr/sbin/mount.fuse.passfs), so that `mount -t fuse.passfs` and fstab lines work')
  .option('--dir <dir>', 'where mount(8) looks for helpers', '/usr/sbin')
  .action((f: { dir: string }) => say(() => `${installHelper(f.dir, BIN)} installed`));

program
  .command('remove-helper')
  .description('remove the mount helper install-helper put in place')
  .option('--dir <dir>', 'where it was installed', '/usr/sbin')
  .action((f: { dir: string }) => say(() => removeHelper(f.dir)));

program
  .command('completion')
  .description('print a bash completion script: passfs completion bash > /etc/bash_completion.d/passfs')
  .argument('<shell>', 'bash (the only one so far)')
  .action((shell: string) => {
    if (shell !== 'bash') fail(`completion ${shell}: only bash is supported`);
    process.stdout.write(bashCompletion(program));
  });

program
  .command('man')
  .description('print the passfs(8) manual page (roff): passfs man > /usr/local/share/man/man8/passfs.8')
  .action(() => {
    process.stdout.write(manPage(program, packageVersion(), new Date().toISOString().slice(0, 10)));
  });

// Listed in the help; handled before parsing (below).
program.option('-V, --version', 'the version and commit, and the FUSE protocol each passfs mount agreed with the kernel');

/**
 * `-o LIST` of `mount` becomes the flags it stands for (mountopts.ts), and
 * mount(8)'s helper call becomes a `mount`, before commander parses.
 */
function argvOf(argv: string[]): string[] | null {
  const [node, script, cmd, ...rest] = argv;
  if (cmd === 'mount') return [node, script, cmd, ...expandOptionArgs(rest)];
  if (cmd === 'mount-helper') {
    const a = helperArgs(rest);
    return a === null ? null : [node, script, 'mount', ...a];
  }
  return argv;
}

if (process.argv[2] === '--version' || process.argv[2] === '-V') {
  versionLines().then((lines) => process.stdout.write(lines.join('\n') + '\n'), (e: Error) => fail(e.message));
} else {
  let args: string[] | null = null;
  try {
    args = argvOf(process.argv);
  } catch (e) {
    fail((e as Error).message);
  }
  if (args !== null) program.parseAsync(args).catch((e: Error) => fail(e.message));
  // else: mount -f (fake): nothing to do
}
