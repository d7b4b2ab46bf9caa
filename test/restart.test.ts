// Restarting the daemon with the mount kept live (issue 19): applications
// holding files open in passthrough and mediated mode and a metadata loop
// run on while `passfs restart` swaps the daemon, twenty times in a row;
// nothing fails, the data is intact, the files keep their modes, the policy
// and its audit go on. And the refusals: a restart that cannot happen
// leaves the daemon serving.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { cli, isMounted, mount, Mount, ROOT } from './helpers.js';
import { StateFile } from '../src/server/statefile.js';
import { native } from '../src/native/index.js';

const t = suite('restart');
const APPS = path.join(ROOT, 'test/fixtures/restart-apps.py');
const POLICY = `version: 1
default: passthrough
rules:
  - name: mediated-dir
    match: { path: ["med/**"] }
    action: mediated
    audit: true
`;

interface App { child: ChildProcess; out: Promise<{ code: number | null; text: string }>; text: () => string }
function app(...args: string[]): App {
  const child = spawn('python3', [APPS, ...args]);
  let text = '';
  child.stdout!.on('data', (d) => (text += d));
  child.stderr!.on('data', (d) => (text += d));
  return { child, out: new Promise((r) => child.on('exit', (code) => r({ code, text }))), text: () => text };
}
async function stop(a: App): Promise<string> {
  a.child.kill('SIGTERM');
  const r = await a.out;
  assert.is(r.code, 0, r.text);
  return r.text;
}

let M: Mount;
let base: string;
t.before(() => {
  base = fs.mkdtempSync('/tmp/passfs-restart-');
  const lower = path.join(base, 'lower');
  for (const d of ['pt', 'med', 'loop-pt', 'loop-med']) fs.mkdirSync(path.join(lower, d), { recursive: true });
  fs.writeFileSync(path.join(lower, 'pt/a'), '');
  fs.writeFileSync(path.join(lower, 'med/b'), '');
  fs.writeFileSync(path.join(base, 'policy.yaml'), POLICY);
  M = mount(['--transport', 'devfuse', '--policy', path.join(base, 'policy.yaml'), '--audit', path.join(base, 'audit.jsonl')], lower);
});
t.after(() => {
  M?.umount();
  fs.rmSync(base, { recursive: true, force: true });
});

t('the state file: regions a successor maps again as they were; a header write cut short leaves the one before', () => {
  const f = StateFile.create(64);
  const a = new Int32Array(f.allocate(4096));
  const b = new Int32Array(f.allocate(100));
  a[5] = 42;
  b[7] = 7;
  f.write({ generation: 1 });
  f.write({ generation: 2 });
  const again = StateFile.adopt(f.fd);
  assert.is(again.capacity, 64);
  assert.is(new Int32Array(again.allocate(4096))[5], 42);
  assert.is(new Int32Array(again.allocate(100))[7], 7);
  assert.equal(again.read(), { generation: 2 });
  // A crash in the middle of the next write: its home holds garbage, the sequence already moved on.
  const header = new Uint8Array(native.mapShared(f.fd, 0, 65536) as SharedArrayBuffer);
  const dv = new DataView(header.buffer);
  dv.setUint32(12, dv.getUint32(12, true) + 1, true);
  header.fill(0x7b, 64 + (dv.getUint32(12, true) % 2) * ((65536 - 64) / 2), 64 + (dv.getUint32(12, true) % 2) * ((65536 - 64) / 2) + 10);
  dv.setUint32(dv.getUint32(12, true) % 2 ? 20 : 16, 10, true);
  assert.equal(again.read(), { generation: 2 }, 'the last whole state');
  assert.throws(() => StateFile.adopt(native.memfdCreate('not-state')), /too small/);
  native.close(f.fd);
});

t('passfs restart, 20 times under load: no application sees an error, data intact, modes kept, policy and audit go on', async () => {
  const first = await M.status();
  const holder = app('holder', M.m('pt/a'), M.m('med/b'));
  const loops = [app('meta', M.m('loop-pt')), app('meta', M.m('med'))];
  await new Promise((r) => setTimeout(r, 300));
  const pids = new Set<number>([first.pid]);
  for (let i = 0; i < 20; i++) {
    const r = cli(['restart', M.mnt]);
    assert.is(r.status, 0, r.stderr);
    const m = /served by pid (\d+) now \(requests waited (\d+) ms/.exec(r.stdout);
    assert.ok(m, r.stdout);
    pids.add(Number(m[1]));
    // Both applications are still running: none has failed.
    assert.is(holder.child.exitCode, null, 'the holder runs on');
    for (const l of loops) assert.is(l.child.exitCode, null, 'the metadata loop runs on');
  }
  assert.is(pids.size, 21, 'a new process each time');
  const s = await M.status();
  assert.is(s.generation, 20);
  assert.is(s.mountedAt, first.mountedAt);
  assert.is(s.takeover.failedFiles, 0);
  // The files held open keep their modes.
  const mode = (p: string) => s.openFiles.find((f: { path: string }) => f.path === p)?.mode;
  assert.is(mode('pt/a'), 'passthrough');
  assert.is(mode('med/b'), 'mediated');
  // The new daemon watches LOWER in the directories the kernel already knew: a change beside the mount shows
  // (the attributes are cached for a day, with the watch on, once looked up).
  fs.writeFileSync(M.l('pt/c'), 'one');
  assert.is(fs.statSync(M.m('pt/c')).size, 3);
  fs.appendFileSync(M.l('pt/c'), 'more');
  let seen = false;
  for (let i = 0; i < 40 && !seen; i++) {
    seen = fs.statSync(M.m('pt/c')).size === 7;
    if (!seen) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(seen, 'a change beside the mount after the restarts is seen');
  await new Promise((r) => setTimeout(r, 300));
  const held = await stop(holder);
  for (const l of loops) assert.match(await stop(l), /^ok [1-9]\d*/);
  // Every record, in order, in both files on the lower directory.
  const n = Number(/^ok (\d+)/.exec(held)![1]);
  assert.ok(n > 20, `records written: ${n}`);
  const want = Array.from({ length: n }, (_, i) => `record ${String(i).padStart(8, '0')}\n`).join('');
  assert.is(fs.readFileSync(M.l('pt/a'), 'utf8'), want);
  assert.is(fs.readFileSync(M.l('med/b'), 'utf8'), want);
  // The policy decided all along (its rule hit after the last restart too), and the audit kept its trail.
  const after = await M.status();
  assert.ok(after.policy.rules[0].hits > 0, 'the rule decides in the last daemon');
  const audit = fs.readFileSync(path.join(base, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const last = Date.parse(s.takeover.at);
  assert.ok(audit.some((a) => Date.parse(a.time ?? a.ts ?? a.at) > last), 'audit lines after the last restart');
  assert.ok(audit.some((a) => Date.parse(a.time ?? a.ts ?? a.at) < Date.parse(first.startedAt) + 5000), 'and from the first daemon');
});

t('kill -9, 20 times, with the descriptors in an fd store (systemd\'s protocol): a successor takes over and no application sees an error', async () => {
  const lower = path.join(base, 'crash-lower');
  const mnt = path.join(base, 'crash-mnt');
  for (const d of ['pt', 'med', 'loop']) fs.mkdirSync(path.join(lower, d), { recursive: true });
  fs.mkdirSync(mnt);
  fs.writeFileSync(path.join(lower, 'pt/a'), '');
  fs.writeFileSync(path.join(lower, 'med/b'), '');
  // The stand-in for systemd: keeps what the daemon stores, restarts it with that after a SIGKILL.
  const store = spawn('python3', [path.join(ROOT, 'test/fixtures/fdstore.py'), path.join(base, 'notify'), '--',
    process.execPath, path.join(ROOT, 'bin/passfs.js'), 'mount', '-f', lower, mnt, '--transport', 'devfuse', '--workers', '2', '--policy', path.join(base, 'policy.yaml')]);
  let out = '';
  store.stdout!.on('data', (d) => (out += d));
  store.stderr!.on('data', (d) => (out += d));
  const readies = () => [...out.matchAll(/^ready (\d+) (\d+)$/gm)];
  const waitReady = async (n: number) => {
    for (let i = 0; i < 400 && readies().length < n; i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(readies().length >= n, `ready ${n}: ${out}`);
  };
  try {
    await waitReady(1);
    assert.is(Number(readies()[0][2]), 4, 'stored: the connection, the state, a clone per worker');
    const holder = app('holder', path.join(mnt, 'pt/a'), path.join(mnt, 'med/b'));
    const loops = [app('meta', path.join(mnt, 'loop')), app('meta', path.join(mnt, 'med'))];
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 1; i <= 20; i++) {
      store.stdin!.write('kill\n');
      await waitReady(i + 1);
      await new Promise((r) => setTimeout(r, 50));
      assert.is(holder.child.exitCode, null, `the holder runs on after kill ${i}: ${holder.text()}`);
      for (const l of loops) assert.is(l.child.exitCode, null, `the metadata loop runs on after kill ${i}: ${l.text()}`);
    }
    const pids = new Set(readies().map((m) => m[1]));
    assert.is(pids.size, 21);
    const st = JSON.parse(cli(['status', mnt, '--json']).stdout);
    assert.is(st.generation, 20);
    assert.ok(st.fdStore);
    const mode = (p: string) => st.openFiles.find((f: { path: string }) => f.path === p)?.mode;
    assert.is(mode('pt/a'), 'passthrough');
    assert.is(mode('med/b'), 'mediated');
    const held = await stop(holder);
    for (const l of loops) assert.match(await stop(l), /^ok [1-9]\d*/);
    const n = Number(/^ok (\d+)/.exec(held)![1]);
    const want = Array.from({ length: n }, (_, i) => `record ${String(i).padStart(8, '0')}\n`).join('');
    assert.is(fs.readFileSync(path.join(lower, 'pt/a'), 'utf8'), want);
    assert.is(fs.readFileSync(path.join(lower, 'med/b'), 'utf8'), want);
  } finally {
    store.stdin!.write('stop\n');
    await new Promise((r) => store.on('exit', r));
    if (isMounted(mnt)) cli(['umount', mnt]);
  }
  assert.not.ok(isMounted(mnt));
});

t('a restart that cannot happen leaves the daemon serving: FUSE over io_uring, a successor that fails', async () => {
  const U = mount(['--transport', 'uring']);
  try {
    const r = cli(['restart', U.mnt]);
    assert.is.not(r.status, 0);
    assert.match(r.stderr, /restart of .* refused, the daemon serves on: .*io_uring.*--transport devfuse/);
    fs.writeFileSync(U.m('still'), 'serving');
    assert.is(fs.readFileSync(U.l('still'), 'utf8'), 'serving');
  } finally {
    U.umount();
  }
  // A successor that cannot start (its policy file is gone now): the old daemon serves on.
  const policy = path.join(base, 'gone.yaml');
  fs.writeFileSync(policy, POLICY);
  const P = mount(['--transport', 'devfuse', '--policy', policy]);
  try {
    const before = await P.status();
    fs.rmSync(policy);
    const r = cli(['restart', P.mnt]);
    assert.is.not(r.status, 0);
    assert.match(r.stderr, /refused, the daemon serves on: .*gone\.yaml/);
    const after = await P.status();
    assert.is(after.pid, before.pid);
    assert.is(after.generation, 0);
    fs.writeFileSync(P.m('still'), 'serving');
    assert.is(fs.readFileSync(P.l('still'), 'utf8'), 'serving');
  } finally {
    P.umount();
  }
  for (const m of [U, P]) assert.not.ok(isMounted(m.mnt), 'unmounted as asked, nothing left behind');
});

t('a successor that fails after it began taking over: the old daemon takes the mount back and serves on, open files and all', async () => {
  const lower = path.join(base, 'fault-lower');
  const mnt = path.join(base, 'fault-mnt');
  fs.mkdirSync(path.join(lower, 'med'), { recursive: true });
  fs.mkdirSync(mnt);
  fs.writeFileSync(path.join(lower, 'med/b'), '');
  fs.writeFileSync(path.join(lower, 'pt'), '');
  // The drill: every successor of this daemon fails right after it rebuilt the shared state with its own descriptors.
  const m = spawnSync(process.execPath, [path.join(ROOT, 'bin/passfs.js'), 'mount', lower, mnt, '--transport', 'devfuse', '--policy', path.join(base, 'policy.yaml')],
    { encoding: 'utf8', env: { ...process.env, PASSFS_FAULT: 'after-go' } });
  assert.is(m.status, 0, m.stderr);
  try {
    const before = JSON.parse(cli(['status', mnt, '--json']).stdout);
    const holder = app('holder', path.join(mnt, 'pt'), path.join(mnt, 'med/b'));
    const loop = app('meta', path.join(mnt, 'med'));
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 3; i++) {
      const r = cli(['restart', mnt]);
      assert.is.not(r.status, 0);
      assert.match(r.stderr, /refused, the daemon serves on: .*failing on purpose/, `restart ${i}: ${r.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.is(holder.child.exitCode, null, holder.text());
    assert.is(loop.child.exitCode, null, loop.text());
    const after = JSON.parse(cli(['status', mnt, '--json']).stdout);
    assert.is(after.pid, before.pid);
    assert.is(after.generation, 0);
    assert.is(after.workers.alive, after.workers.count);
    const n = Number(/^ok (\d+)/.exec(await stop(holder))![1]);
    assert.match(await stop(loop), /^ok [1-9]/);
    const want = Array.from({ length: n }, (_, i) => `record ${String(i).padStart(8, '0')}\n`).join('');
    assert.is(fs.readFileSync(path.join(lower, 'med/b'), 'utf8'), want);
    assert.is(fs.readFileSync(path.join(lower, 'pt'), 'utf8'), want);
  } finally {
    cli(['umount', mnt]);
  }
  assert.not.ok(isMounted(mnt));
});

t.run();
