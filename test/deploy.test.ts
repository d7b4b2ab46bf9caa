// Deploying it like any FUSE file system (issue 18): mount -t fuse.passfs and
// fstab lines through the mount helper, -o options, unmounting from outside,
// a restart after the daemon was killed, --version, clear errors.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { cli, scratch, isMounted, waitUnmounted, USER, BIN as BIN_PATH } from './helpers.js';
import { createRequire } from 'node:module';
import { mounts } from '../src/server/mounts.js';

// A Prometheus text-format parser of its own (not prom-client's writer): what a scraper would read.
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => { name: string; type: string; metrics: { value: string; labels?: Record<string, string> }[] }[];

const t = suite('deploy');
let base: string;
/** A private directory for the helper: mount(8) is pointed at it only through the installed file (below). */
const HELPER_DIR = '/usr/sbin';
const HELPER = path.join(HELPER_DIR, 'mount.fuse.passfs');
let helperWasThere = false;
t.before(() => {
  base = scratch();
  for (const d of ['lower', 'mnt']) fs.mkdirSync(path.join(base, d));
  fs.writeFileSync(path.join(base, 'lower/f'), 'data');
  helperWasThere = fs.existsSync(HELPER);
});
t.after(() => {
  for (let i = 0; i < 4 && isMounted(b('mnt')); i++) spawnSync('umount', ['-l', b('mnt')]);
  if (!helperWasThere) cli(['remove-helper']);
  fs.rmSync(base, { recursive: true, force: true });
});

const b = (p: string) => path.join(base, p);
const entry = () => mounts().findLast((m) => m.mountpoint === fs.realpathSync(b('mnt'))); // the top one
const options = () => fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').find((l) => l.split(' ')[1] === fs.realpathSync(b('mnt')))?.split(' ')[3] ?? '';

/** The daemon's pid, from its status. */
function daemonPid(): number {
  const r = cli(['status', b('mnt'), '--json']);
  assert.is(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { pid: number }).pid;
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

t('mount -t fuse.passfs with -o options, through the helper install-helper puts in place; umount makes the daemon exit', async () => {
  const i = cli(['install-helper']);
  assert.is(i.status, 0, i.stderr);
  assert.match(fs.readFileSync(HELPER, 'utf8'), /passfs mount helper/);
  const r = spawnSync('mount', ['-t', 'fuse.passfs', b('lower'), b('mnt'), '-o', 'allow_other,io=mediated,noatime,nofail,_netdev,x-systemd.automount'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.equal({ ...entry() }, { mountpoint: fs.realpathSync(b('mnt')), fstype: 'fuse.passfs', source: fs.realpathSync(b('lower')) });
  assert.match(options(), /noatime/);
  assert.match(options(), /allow_other/);
  const s = JSON.parse(cli(['status', b('mnt'), '--json']).stdout) as { io: string; pid: number };
  assert.is(s.io, 'mediated');
  assert.is(fs.readFileSync(b('mnt/f'), 'utf8'), 'data');
  assert.is(spawnSync('umount', [b('mnt')]).status, 0);
  assert.ok(await gone(s.pid), 'the daemon exits after an outside umount');
  assert.not.ok(isMounted(b('mnt')));
});

t('an fstab line (mount -T) and umount -l', async () => {
  const fstab = b('fstab');
  fs.writeFileSync(fstab, `# a test fstab\n${b('lower')} ${b('mnt')} fuse.passfs allow_other,io=passthrough,workers=2,nofail,x-systemd.requires=local-fs.target 0 0\n`);
  const r = spawnSync('mount', ['-T', fstab, b('mnt')], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const pid = daemonPid();
  const s = JSON.parse(cli(['status', b('mnt'), '--json']).stdout) as { io: string; workers: { count: number } };
  assert.is(s.io, 'passthrough');
  assert.is(s.workers.count, 2);
  assert.is(spawnSync('umount', ['-l', b('mnt')]).status, 0);
  assert.ok(await gone(pid), 'the daemon exits after umount -l');
});

t('fusermount3 -u makes the daemon exit, as umount does', async () => {
  { const m = cli(['mount', b('lower'), b('mnt')]); assert.is(m.status, 0, m.stderr); }
  const pid = daemonPid();
  const r = spawnSync('fusermount3', ['-u', b('mnt')], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.ok(await gone(pid), 'the daemon exits after fusermount3 -u');
  assert.not.ok(isMounted(b('mnt')));
});

t('-o errors are one line and leave nothing mounted; mount -f (fake) does nothing', () => {
  for (const [opts, why] of [['frob', /-o frob: unknown option/], ['io', /-o io: needs a value/], ['allow_other=1', /takes no value/], ['io=bogus', /bogus/]] as const) {
    const r = cli(['mount', b('lower'), b('mnt'), '-o', opts]);
    assert.is.not(r.status, 0);
    assert.match(r.stderr, why);
    assert.ok(r.stderr.trim().split('\n').length <= 2, r.stderr);
    assert.not.ok(isMounted(b('mnt')));
  }
  const m = spawnSync('mount', ['-t', 'fuse.passfs', b('lower'), b('mnt'), '-o', 'frob'], { encoding: 'utf8' });
  assert.is.not(m.status, 0);
  assert.match(m.stderr, /unknown option/);
  assert.is(cli(['mount-helper', b('lower'), b('mnt'), '-f', '-o', 'allow_other']).status, 0);
  assert.not.ok(isMounted(b('mnt')));
});

t('after the daemon was killed, a mount on the same point works in one step', async () => {
  { const m = cli(['mount', b('lower'), b('mnt')]); assert.is(m.status, 0, m.stderr); }
  const pid = daemonPid();
  process.kill(pid, 'SIGKILL');
  assert.ok(await gone(pid));
  const again = cli(['mount', b('lower'), b('mnt')]);
  assert.is(again.status, 0, again.stderr);
  assert.is(fs.readFileSync(b('mnt/f'), 'utf8'), 'data');
  assert.is(cli(['umount', b('mnt')]).status, 0);
  await waitUnmounted(b('mnt'));
});

t('passfs umount never unmounts what is mounted on top of the passfs mount', async () => {
  { const m = cli(['mount', b('lower'), b('mnt')]); assert.is(m.status, 0, m.stderr); }
  assert.is(spawnSync('mount', ['-t', 'tmpfs', 'ontop', b('mnt')]).status, 0);
  const r = cli(['umount', b('mnt')]);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /tmpfs ontop is mounted on top of the passfs mount: unmount that first/);
  assert.is(entry()?.fstype, 'tmpfs', 'the tmpfs is still there');
  assert.is(spawnSync('umount', [b('mnt')]).status, 0);
  assert.is(entry()?.fstype, 'fuse.passfs');
  assert.is(cli(['umount', b('mnt')]).status, 0);
  await waitUnmounted(b('mnt'));
});

t('--version; status as a user says it needs root; --audit without --policy is refused', () => {
  const v = cli(['--version']);
  assert.is(v.status, 0, v.stderr);
  const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.match(v.stdout, new RegExp(`^passfs ${pkg.version.replace(/\./g, '\\.')} \\(commit [0-9a-f]+\\)`));
  { const m = cli(['mount', b('lower'), b('mnt')]); assert.is(m.status, 0, m.stderr); }
  try {
    assert.match(cli(['--version']).stdout, /FUSE 7\.\d+ agreed with the kernel/);
    const u = cli(['status', b('mnt')], { uid: USER.uid, gid: USER.gid });
    assert.is.not(u.status, 0);
    assert.match(u.stderr, /root only.*run this as root/);
  } finally {
    cli(['umount', b('mnt')]);
  }
  const a = cli(['mount', b('lower'), b('mnt'), '--audit', b('audit.jsonl')]);
  assert.is.not(a.status, 0);
  assert.match(a.stderr, /--audit needs --policy/);
  assert.not.ok(fs.existsSync(b('audit.jsonl')));
});

t('--metrics serves the status counters in the Prometheus text format, on loopback by default; status shows the open files', async () => {
  const port = 19000 + (process.pid % 1000);
  { const m = cli(['mount', b('lower'), b('mnt'), '--metrics', String(port), '-o', 'io=mediated']); assert.is(m.status, 0, m.stderr); }
  try {
    assert.is(fs.readFileSync(b('mnt/f'), 'utf8'), 'data');
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.is(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = await res.text();
    const families = parsePrometheus(text);
    const fam = (name: string) => families.find((f) => f.name === name);
    assert.is(fam('passfs_requests_total')?.type, 'COUNTER');
    const value = (name: string, label: string, v: string) => Number(fam(name)?.metrics.find((m) => m.labels?.[label] === v)?.value);
    assert.ok(value('passfs_requests_total', 'opcode', 'LOOKUP') >= 1);
    assert.ok(value('passfs_requests_total', 'opcode', 'READ') >= 1);
    assert.is(value('passfs_opens_total', 'mode', 'mediated'), 1);
    assert.is(value('passfs_mediated_bytes_total', 'direction', 'read'), 4);
    assert.is(value('passfs_workers', 'state', 'alive'), value('passfs_workers', 'state', 'configured'));
    assert.is(fam('passfs_info')?.metrics[0].labels?.io, 'mediated');
    // Latency histograms by opcode: cumulative buckets ending in +Inf = count, and a sum. (The parser
    // folds a histogram's labelled series into one, so the READ series is read from the lines.)
    assert.is(fam('passfs_request_duration_seconds')?.type, 'HISTOGRAM');
    const series = (suffix: string) => [...text.matchAll(new RegExp(`^passfs_request_duration_seconds_${suffix}\\{([^}]*opcode="READ"[^}]*)\\} (\\S+)$`, 'gm'))]
      .map((m) => ({ le: /le="([^"]+)"/.exec(m[1])?.[1], value: Number(m[2]) }));
    const buckets = series('bucket');
    const [count] = series('count');
    const [sum] = series('sum');
    assert.ok(buckets.length > 2, 'READ buckets');
    assert.is(buckets[buckets.length - 1].le, '+Inf');
    assert.is(buckets[buckets.length - 1].value, count.value);
    assert.ok(count.value >= 1 && sum.value > 0 && sum.value < 10, `count ${count.value} sum ${sum.value}`);
    const cum = buckets.map((x) => x.value);
    assert.ok(cum.every((n, i) => i === 0 || n >= cum[i - 1]), 'cumulative');
    assert.is((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
    // The human status lists the files open now, with their mode.
    const held = fs.openSync(b('mnt/f'), 'r');
    try {
      const st = cli(['status', b('mnt')]).stdout;
      assert.match(st, /open files: 1 \(0 passthrough, 1 mediated\)/);
      assert.match(st, /mediated +f \(1 open, last by pid \d+/);
    } finally {
      fs.closeSync(held);
    }
  } finally {
    cli(['umount', b('mnt')]);
  }
  const bad = cli(['mount', b('lower'), b('mnt'), '--metrics', 'nowhere']);
  assert.is.not(bad.status, 0);
  assert.match(bad.stderr, /--metrics nowhere: expected HOST:PORT/);
  assert.not.ok(isMounted(b('mnt')));
});

t('under systemd: READY=1 over $NOTIFY_SOCKET once the mount is live, STOPPING=1 at SIGTERM; a busy mount is served --stop-timeout seconds at most', async () => {
  // The test plays systemd: a datagram socket that prints what it receives.
  const sock = b('notify.sock');
  const listener = spawn('/usr/bin/python3', ['-u', '-c',
    `import socket, sys\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.bind(${JSON.stringify(sock)})\nprint("listening")\nwhile True:\n  print(s.recv(4096).decode().replace("\\n", "|"))`]);
  let heard = '';
  listener.stdout.on('data', (d) => { heard += d; });
  const until = async (re: RegExp, what: string) => {
    for (let i = 0; i < 200 && !re.test(heard); i++) await new Promise((r) => setTimeout(r, 25));
    assert.match(heard, re, what);
  };
  try {
    await until(/listening/, 'the listener is up');
    const d = spawn(process.execPath, [BIN_PATH, 'mount', '-f', b('lower'), b('mnt'), '--stop-timeout', '1'], { env: { ...process.env, NOTIFY_SOCKET: sock } });
    const exited = new Promise<number | null>((r) => d.on('exit', (c) => r(c)));
    await until(/READY=1\|STATUS=serving .*\|MAINPID=\d+/, 'READY=1 once mounted');
    assert.ok(isMounted(b('mnt')), 'mounted when READY=1 arrives');
    const fd = fs.openSync(b('mnt/f'), 'r'); // keeps the mount busy
    d.kill('SIGTERM');
    await until(/STOPPING=1/, 'STOPPING=1 at SIGTERM');
    const t0 = Date.now();
    assert.is(await exited, 0);
    assert.ok(Date.now() - t0 < 5000, 'a busy mount ends after --stop-timeout');
    assert.not.ok(isMounted(b('mnt')), 'detached at SIGTERM');
    // (A passthrough file still open keeps reading from its backing file: the kernel serves it.)
    fs.closeSync(fd);
  } finally {
    listener.kill();
  }
});

t('passfs systemd-unit prints a unit systemd accepts', () => {
  const r = cli(['systemd-unit', b('lower'), b('mnt'), '--', '--allow-other', '--io', 'mediated']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Type=notify$/m);
  assert.match(r.stdout, new RegExp(`^ExecStart=.* mount -f ${b('lower')} ${b('mnt')} --allow-other --io mediated$`, 'm'));
  assert.match(r.stdout, new RegExp(`^ExecReload=.* restart ${b('mnt')}$`, 'm'));
  assert.match(r.stdout, /^NotifyAccess=all$/m);
  assert.match(r.stdout, /^FileDescriptorStoreMax=\d+$/m);
  const unit = b('passfs-test.service');
  fs.writeFileSync(unit, r.stdout);
  const v = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
  assert.ok(!/passfs-test\.service:\d+:/.test(v.stderr), v.stderr);
});

t('policy explain takes sizes as the docs show them (--size 4K), and says why it refuses one', () => {
  const policy = b('size.yaml');
  fs.writeFileSync(policy, 'version: 1\ndefault: passthrough\nrules:\n  - name: big\n    match: { size: ">= 4K" }\n    action: mediated\n');
  const r = cli(['policy', 'explain', policy, 'a/b', '--size', '4K']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /decision: mediated, by rules\[0\] "big"/);
  const small = cli(['policy', 'explain', policy, 'a/b', '--size', '1.5K']);
  assert.match(small.stdout, /decision: passthrough/);
  const bad = cli(['policy', 'explain', policy, 'a/b', '--size', '4Q']);
  assert.is.not(bad.status, 0);
  assert.match(bad.stderr, /unknown unit "Q"/);
});

t.run();
