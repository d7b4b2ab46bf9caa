// Watching a mount as an admin does (issue 18): `status --watch`, --debug
// tracing requests, log lines with time and level (syslog priorities under
// the journal), log files and sockets that do not pile up under /run/passfs,
// bash completion and the manual page made from the same help.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { cli, scratch, isMounted, waitUnmounted, BIN } from './helpers.js';
import { logPath, RUN_DIR, socketPath } from '../src/server/control.js';

const t = suite('observe');
let base: string;
t.before(() => {
  base = scratch();
  for (const d of ['lower', 'mnt']) fs.mkdirSync(path.join(base, d));
  fs.writeFileSync(path.join(base, 'lower/f'), 'data');
});
t.after(() => {
  for (let i = 0; i < 4 && isMounted(b('mnt')); i++) spawnSync('umount', ['-l', b('mnt')]);
  fs.rmSync(base, { recursive: true, force: true });
});
const b = (p: string) => path.join(base, p);
const mnt = () => fs.realpathSync(b('mnt'));

function mountIt(...args: string[]): void {
  const m = cli(['mount', b('lower'), b('mnt'), ...args]);
  assert.is(m.status, 0, m.stderr);
}

async function umountIt(): Promise<void> {
  const u = cli(['umount', b('mnt')]);
  assert.is(u.status, 0, u.stderr);
  await waitUnmounted(b('mnt'));
}

t('status --watch redraws rates per second, latencies and open files by mode', async () => {
  mountIt('--io', 'mediated');
  // Load while it watches: reads in a loop, and one file held open.
  const loop = spawn('sh', ['-c', `while :; do cat ${b('mnt/f')} >/dev/null; done`], { stdio: 'ignore' });
  const held = fs.openSync(b('mnt/f'), 'r');
  try {
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const w = spawn(process.execPath, [BIN, 'status', b('mnt'), '--watch', '--interval', '0.3', '--count', '2']);
      let out = '';
      w.stdout.on('data', (d) => (out += d));
      w.on('exit', (code) => resolve({ code, out }));
    });
    assert.is(r.code, 0, r.out);
    const frames = r.out.trim().split('\n\n');
    assert.is(frames.length, 2, r.out);
    for (const f of frames) {
      assert.match(f, /per second over the last \d+\.\d s/);
      const rps = Number(/requests\/s: ([\d.]+)/.exec(f)?.[1]);
      assert.ok(rps > 0, f);
      assert.match(f, /\n +(OPEN|READ|LOOKUP|GETATTR|RELEASE|FLUSH) +[\d.]+\/s +p50 +[\d.]+ (µs|ms) +p99/);
      assert.match(f, /open files now: [1-9]\d* \(0 passthrough, [1-9]\d* mediated\)/);
      assert.match(f, /opens\/s: [\d.]+ passthrough, [1-9][\d.]* mediated/);
    }
    const both = cli(['status', b('mnt'), '--watch', '--json']);
    assert.is.not(both.status, 0);
    assert.match(both.stderr, /--watch and --json do not go together/);
  } finally {
    loop.kill();
    fs.closeSync(held);
    await umountIt();
  }
});

t('--debug traces every request with its result and latency; lines carry time and level; a clean exit removes the log', async () => {
  mountIt('-o', 'debug');
  const log = logPath(mnt());
  try {
    assert.ok(fs.existsSync(log));
    assert.is(fs.readFileSync(b('mnt/f'), 'utf8'), 'data');
    const g = spawnSync('getfattr', ['-n', 'user.none', b('mnt/f')], { encoding: 'utf8' });
    assert.match(g.stderr, /No such attribute/);
    let text = '';
    for (let i = 0; i < 100 && !/GETXATTR/.test(text); i++) {
      await new Promise((r) => setTimeout(r, 20));
      text = fs.readFileSync(log, 'utf8');
    }
    const line = /^(\S+) passfs\[worker \d+\] debug: GETXATTR #\d+ node 2 uid 0 pid \d+: ENODATA \(\d+ µs\)$/m.exec(text);
    assert.ok(line, text.slice(0, 2000));
    assert.ok(!Number.isNaN(Date.parse(line[1])), `an ISO time: ${line[1]}`);
    assert.match(text, /debug: OPEN #\d+ node 2 uid 0 pid \d+: ok, 16 bytes/);
    assert.match(text, /^\S+ passfs info: serving /m);
  } finally {
    await umountIt();
  }
  assert.not.ok(fs.existsSync(log), 'the log of a daemon that ended cleanly is removed');
  // Without --debug, no traces; the default level says what the daemon does.
  mountIt();
  try {
    fs.readFileSync(b('mnt/f'));
    const text = fs.readFileSync(logPath(mnt()), 'utf8');
    assert.not.match(text, / debug: /);
    assert.match(text, / info: serving /);
  } finally {
    await umountIt();
  }
  const bad = cli(['mount', b('lower'), b('mnt'), '--log-level', 'loud']);
  assert.is.not(bad.status, 0);
  assert.match(bad.stderr, /Allowed choices are error, warn, info, debug/);
});

t('under the journal, each line starts with its syslog priority and no time of its own; an inherited $JOURNAL_STREAM is not the journal', async () => {
  // The journal's stream, played by a file: $JOURNAL_STREAM names its device and inode, as systemd does.
  const stream = b('journal');
  const fd = fs.openSync(stream, 'w');
  const st = fs.fstatSync(fd);
  const d = spawn(process.execPath, [BIN, 'mount', '-f', b('lower'), b('mnt'), '--log-level', 'debug'], { stdio: ['ignore', 'ignore', fd], env: { ...process.env, JOURNAL_STREAM: `${st.dev}:${st.ino}` } });
  fs.closeSync(fd);
  let err = '';
  const read = () => (err = fs.readFileSync(stream, 'utf8'));
  const poll = setInterval(read, 20);
  try {
    for (let i = 0; i < 200 && !/serving/.test(err); i++) await new Promise((r) => setTimeout(r, 25));
    fs.statSync(b('mnt/f'));
    for (let i = 0; i < 200 && !/^<7>/m.test(err); i++) await new Promise((r) => setTimeout(r, 25));
  } finally {
    d.kill('SIGTERM');
    await new Promise((r) => d.on('exit', r));
    clearInterval(poll);
    read();
  }
  assert.match(err, /^<6>passfs: serving /m);
  assert.match(err, /^<7>passfs\[worker \d+\]: (LOOKUP|GETATTR) #\d+ node 1 /m);
  assert.not.match(err, /^\d{4}-\d\d-\d\dT/m);
  // Inherited by a background daemon whose stderr is its log file: lines there carry their time and level.
  const m = cli(['mount', b('lower'), b('mnt')]);
  assert.is(m.status, 0, m.stderr);
  try {
    assert.match(fs.readFileSync(logPath(mnt()), 'utf8'), /^\S+Z passfs info: serving /m);
  } finally {
    await umountIt();
  }
});

t('latency buckets: under 2^b µs in bucket b, the last for longer; mediated requests on /dev/fuse are timed too', async () => {
  // The compiled counters (tsc inlines the counter slots; the tests' on-the-fly compiler cannot): buckets relative to 0 µs's.
  const { observeLatency, LAT_BOUNDS_US, LAT_BUCKETS } = await import('../dist/io/counters.js') as typeof import('../src/io/counters.js');
  const stats = new Float64Array(1 << 16);
  const slot = (us: number) => {
    stats.fill(0);
    observeLatency(stats, 15, us);
    return stats.indexOf(1);
  };
  const bucket = (us: number) => slot(us) - slot(0);
  assert.equal([0, 0.5, 1, 1.9, 2, 3, 4, 1023, 1024, 2 ** 20 - 1, 2 ** 20, 1e9].map(bucket), [0, 0, 1, 1, 2, 2, 3, 10, 11, 20, 21, 21]);
  assert.is(LAT_BOUNDS_US.length, LAT_BUCKETS - 1);
  // The async engine serves these later (stable copies of the request): their time is counted from arrival.
  mountIt('--io', 'mediated', '--transport', 'devfuse', '--mediated', 'async');
  try {
    for (let i = 0; i < 20; i++) fs.readFileSync(b('mnt/f'));
    const s = JSON.parse(cli(['status', b('mnt'), '--json']).stdout);
    const read = s.latency.byOpcode.READ;
    assert.ok(read && read.count >= 1 && Number.isFinite(read.sumMicros) && read.sumMicros > 0, JSON.stringify(read));
    assert.is(read.buckets[0], 0, 'none under 1 µs: a real read takes longer');
  } finally {
    await umountIt();
  }
});

t('a start removes what dead daemons left under /run/passfs: sockets nobody listens on, logs a week old', async () => {
  fs.mkdirSync(RUN_DIR, { recursive: true, mode: 0o700 });
  // A killed daemon's socket: bound, then its process gone without removing it.
  const stale = path.join(RUN_DIR, '00c0ffee00c0ffee.sock');
  const py = spawnSync('python3', ['-c', `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(stale)}); s.listen()`]);
  assert.is(py.status, 0, String(py.stderr));
  const oldLog = path.join(RUN_DIR, '00c0ffee00c0ffee.log');
  const newLog = path.join(RUN_DIR, '00c0ffee00c0fffe.log');
  for (const f of [oldLog, newLog]) fs.writeFileSync(f, 'passfs: old\n');
  const weekAgo = new Date(Date.now() - 8 * 86_400_000);
  fs.utimesSync(oldLog, weekAgo, weekAgo);
  mountIt();
  try {
    assert.not.ok(fs.existsSync(stale), 'the stale socket is gone');
    assert.not.ok(fs.existsSync(oldLog), 'the week-old log is gone');
    assert.ok(fs.existsSync(newLog), 'a recent log of a daemon that failed stays');
    assert.ok(fs.existsSync(socketPath(mnt())), 'the live daemon keeps its socket');
  } finally {
    fs.rmSync(newLog, { force: true });
    await umountIt();
  }
  assert.not.ok(fs.existsSync(socketPath(mnt())));
});

/** What bash completes for `words` (the last one being completed). */
function complete(words: string[]): string[] {
  const script = cli(['completion', 'bash']);
  assert.is(script.status, 0, script.stderr);
  const arr = words.map((w) => `'${w}'`).join(' ');
  const r = spawnSync('bash', ['-c', `${script.stdout}\nCOMP_WORDS=(${arr}); COMP_CWORD=${words.length - 1}; _passfs; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

t('bash completion: commands, options, option values, subcommands, mount points of passfs mounts', async () => {
  assert.equal(complete(['passfs', 'st']), ['status']);
  assert.ok(complete(['passfs', 'mount', '--lo']).includes('--log-level'));
  assert.equal(complete(['passfs', 'mount', '--io', '']), ['passthrough', 'mediated']);
  assert.equal(complete(['passfs', 'mount', '--log-level', 'd']), ['debug']);
  assert.equal(complete(['passfs', 'policy', '']).sort(), ['check', 'explain']);
  // Files where a command takes a file, the one shell for completion, the alias of umount.
  fs.writeFileSync(b('pol.yaml'), 'version: 1\n');
  assert.ok(complete(['passfs', 'policy', 'check', b('pol')]).includes(b('pol.yaml')));
  assert.equal(complete(['passfs', 'completion', '']), ['bash']);
  assert.ok(complete(['passfs', 'unmount', '--']).includes('--help'));
  assert.ok(complete(['passfs', 'policy', 'explain', '--']).includes('--size'));
  mountIt();
  try {
    assert.ok(complete(['passfs', 'status', '']).includes(mnt()), 'a passfs mount point is offered');
  } finally {
    await umountIt();
  }
  const z = cli(['completion', 'zsh']);
  assert.is.not(z.status, 0);
  assert.match(z.stderr, /only bash/);
});

t('passfs man renders with man(1) and documents every command and mount option', () => {
  const page = cli(['man']);
  assert.is(page.status, 0, page.stderr);
  assert.match(page.stdout, /^\.TH PASSFS 8 /);
  const file = b('passfs.8');
  fs.writeFileSync(file, page.stdout);
  const r = spawnSync('man', ['-l', file], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '200', MAN_KEEP_FORMATTING: '0' } });
  assert.is(r.status, 0, r.stderr);
  const text = r.stdout.replace(/.\x08/g, '');
  for (const cmd of ['mount', 'umount', 'status', 'reload', 'policy check', 'policy explain', 'systemd-unit', 'install-helper', 'completion']) {
    assert.match(text, new RegExp(`\\n {3}${cmd}\\n`), `section for ${cmd}`);
  }
  for (const opt of ['--io <mode>', '--log-level <level>', '--metrics <host:port>', '--stop-timeout <s>', '--watch']) assert.ok(text.includes(opt), opt);
  assert.not.match(text, /kill-worker|mount-helper/, 'hidden commands stay out');
});

t.run();
