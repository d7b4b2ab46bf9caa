// The command line: clear one-line errors with a non-zero exit, clean unmounts on signals.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { cli, code, scratch, mount, isMounted, waitUnmounted, USER, BIN } from './helpers.js';

const t = suite('cli');
let base: string;
t.before(() => {
  base = scratch();
  fs.mkdirSync(path.join(base, 'lower'));
  fs.mkdirSync(path.join(base, 'mnt'));
  fs.writeFileSync(path.join(base, 'file'), '');
});
t.after(() => fs.rmSync(base, { recursive: true, force: true }));

const b = (p: string) => path.join(base, p);

function fails(args: string[], pattern: string | RegExp, opts = {}) {
  const r = cli(args, opts);
  assert.is.not(r.status, 0, `expected a failure for ${args.join(' ')}`);
  assert.match(r.stderr, pattern);
  assert.ok(r.stderr.trim().split('\n').length <= 2, `error should be one line: ${r.stderr}`);
  assert.not.ok(isMounted(b('mnt')), 'nothing may be left mounted');
}

t('bad input gives one clear line and a non-zero exit', () => {
  fails(['mount', b('nope'), b('mnt')], /lower directory .*nope does not exist/);
  fails(['mount', b('file'), b('mnt')], /lower directory .*file is not a directory/);
  fails(['mount', b('lower'), b('nomnt')], /mount point .*nomnt does not exist/);
  fails(['mount', b('lower'), b('file')], /mount point .*file is not a directory/);
  fails(['mount', b('lower'), b('mnt'), '--io', 'bogus'], /--io.*bogus|Allowed choices/);
  fails(['mount', b('lower'), b('mnt'), '--workers', '0'], /--workers/);
  fails(['mount', b('lower'), b('mnt'), '--frobnicate'], /unknown option/);
  fails(['mount', b('lower'), b('lower/..')], /must not contain each other|already mounted/);
  fails(['mount', b('lower'), b('mnt')], /must run as root/, { uid: USER.uid, gid: USER.gid });
  fails(['status', b('mnt')], /no passfs daemon serves/);
  fails(['umount', b('mnt')], /is not mounted/);
});

t('a mount point already mounted is refused', () => {
  const M = mount([]);
  try {
    const r = cli(['mount', b('lower'), M.mnt]);
    assert.is.not(r.status, 0);
    assert.match(r.stderr, /already mounted/);
  } finally {
    M.umount();
  }
});

t('umount removes the mount of a daemon that died, and no mount that is not passfs', async () => {
  const M = mount([]);
  try {
    const { pid } = await M.status();
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 200 && fs.existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 10));
    assert.is(code(() => fs.statSync(M.mnt)), 'ENOTCONN', 'the dead mount answers ENOTCONN');
    // (A new mount there would remove it by itself: test/deploy.test.ts.)
    const r = cli(['umount', M.mnt]);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /no daemon was serving it/);
    assert.not.ok(isMounted(M.mnt));
  } finally {
    if (isMounted(M.mnt)) M.umount();
    else fs.rmSync(M.base, { recursive: true, force: true });
  }
  const tm = b('tmpfs');
  fs.mkdirSync(tm);
  spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', tm]);
  try {
    assert.ok(isMounted(tm));
    const r = cli(['umount', tm]);
    assert.is.not(r.status, 0);
    assert.match(r.stderr, /is not a passfs mount \(it is tmpfs\)/);
    assert.ok(isMounted(tm), 'the tmpfs stays');
  } finally {
    spawnSync('umount', [tm]);
  }
});

t('a start refused for its policy leaves no audit file', () => {
  const bad = b('bad.yaml');
  fs.writeFileSync(bad, 'version: 1\ndefault: passthrough\nrules:\n  - match: { path: ["*"] }\n    action: frobnicate\n');
  const audit = b('audit-new.jsonl');
  fails(['mount', b('lower'), b('mnt'), '--policy', bad, '--audit', audit], /bad\.yaml:5/);
  assert.not.ok(fs.existsSync(audit), 'no audit file was created');
  const good = b('good.yaml');
  fs.writeFileSync(good, 'version: 1\ndefault: passthrough\nrules: []\n');
  fails(['mount', b('lower'), b('mnt'), '--policy', good, '--audit', b('no/such/dir/audit.jsonl')], /cannot write audit log .*ENOENT/);
  fails(['mount', b('lower'), b('mnt'), '--policy', good, '--audit', b('lower')], /cannot write audit log .*EISDIR/);
});

t('the audit file is created 0600 (or --audit-mode) and owned by root; one others may write is refused', () => {
  const policy = b('audit-policy.yaml');
  fs.writeFileSync(policy, 'version: 1\ndefault: passthrough\nrules: []\n');
  for (const [args, mode] of [[[], 0o600], [['--audit-mode', '0640'], 0o640]] as const) {
    const audit = b(`audit-${mode.toString(8)}.jsonl`);
    const M = mount(['--policy', policy, '--audit', audit, ...args]);
    try {
      fs.writeFileSync(M.m('f'), 'x');
      const st = fs.statSync(audit);
      assert.is(st.mode & 0o7777, mode, `mode of the audit file (${args.join(' ') || 'default'})`);
      assert.is(st.uid, 0);
      // (audit lines are written behind the reply)
      const written = () => fs.readFileSync(audit, 'utf8').includes('"decision"');
      for (let i = 0; i < 40 && !written(); i++) spawnSync('sleep', ['0.05']);
      assert.ok(written(), 'lines are written');
    } finally {
      M.umount();
    }
  }
  // An existing file that group, others or another user may write: refused, untouched, nothing mounted.
  const shared = b('audit-shared.jsonl');
  fs.writeFileSync(shared, 'forged\n');
  fs.chmodSync(shared, 0o666);
  fails(['mount', b('lower'), b('mnt'), '--policy', policy, '--audit', shared], /audit log .*audit-shared\.jsonl is writable by others \(mode 0666\)/);
  fs.chmodSync(shared, 0o620);
  fails(['mount', b('lower'), b('mnt'), '--policy', policy, '--audit', shared], /is writable by its group \(mode 0620\)/);
  fs.chmodSync(shared, 0o600);
  fs.chownSync(shared, USER.uid, USER.gid);
  fails(['mount', b('lower'), b('mnt'), '--policy', policy, '--audit', shared], /belongs to uid 4321/);
  assert.is(fs.readFileSync(shared, 'utf8'), 'forged\n');
  // Never through a link, never in a directory another user may write: such a user could plant or replace the trail.
  const target = b('precious');
  fs.writeFileSync(target, 'precious\n', { mode: 0o600 });
  fs.symlinkSync(target, b('audit-link.jsonl'));
  fails(['mount', b('lower'), b('mnt'), '--policy', policy, '--audit', b('audit-link.jsonl')], /audit log .*audit-link\.jsonl is a symbolic link: refusing to follow it/);
  fs.symlinkSync(b('nowhere'), b('audit-dangling.jsonl'));
  fails(['mount', b('lower'), b('mnt'), '--policy', policy, '--audit', b('audit-dangling.jsonl')], /is a symbolic link/);
  assert.not.ok(fs.existsSync(b('nowhere')), 'nothing was created through the dangling link');
  fs.linkSync(target, b('audit-hard.jsonl'));
  fails(['mount', b('lower'), b('mnt'), '--policy', policy, '--audit', b('audit-hard.jsonl')], /has 2 links/);
  assert.is(fs.readFileSync(target, 'utf8'), 'precious\n');
  fs.mkdirSync(b('open-dir'));
  fs.chmodSync(b('open-dir'), 0o777);
  fails(['mount', b('lower'), b('mnt'), '--policy', policy, '--audit', b('open-dir/audit.jsonl')], /its directory .*open-dir is writable by others, who could replace the trail/);
  assert.not.ok(fs.existsSync(b('open-dir/audit.jsonl')));
  fails(['mount', b('lower'), b('mnt'), '--audit', b('a.jsonl'), '--audit-mode', '0666'], /--audit-mode.*writable by group or others/);
  fails(['mount', b('lower'), b('mnt'), '--audit', b('a.jsonl'), '--audit-mode', 'rw'], /--audit-mode.*octal/);
});

t('policy check prints every problem, one line each', () => {
  const bad = b('two.yaml');
  fs.writeFileSync(bad, 'version: 1\ndefault: passthrough\nrules:\n  - matc: { path: ["*"] }\n    action: deny\n  - match: { path: ["*"] }\n    action: deny\n    errno: EACCESS\n');
  const r = cli(['policy', 'check', bad]);
  assert.is(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  assert.ok(lines.length >= 2, r.stderr);
  assert.match(r.stderr, /two\.yaml:4/);
  assert.match(r.stderr, /two\.yaml:8/);
});

t('output into a pipe closed early (| head) ends quietly, status 0', () => {
  const M = mount([]);
  try {
    const policy = path.join(base, 'p.yaml');
    fs.writeFileSync(policy, 'version: 1\ndefault: passthrough\nrules: []\n');
    // `true` exits without reading: every write finds the pipe closed.
    for (const args of [['status', M.mnt], ['status', M.mnt, '--json'], ['policy', 'explain', policy, 'a/b'], ['policy', 'check', policy]]) {
      const r = spawnSync('bash', ['-c', `set -o pipefail; ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} ${args.map((a) => JSON.stringify(a)).join(' ')} | true`], { encoding: 'utf8' });
      assert.is(r.stderr, '', `${args.join(' ')}: ${r.stderr}`);
      assert.is(r.status, 0, args.join(' '));
    }
  } finally {
    M.umount();
  }
});

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  t(`${sig} unmounts a foreground daemon cleanly and keeps what was written`, async () => {
    const child = spawn(process.execPath, [BIN, 'mount', b('lower'), b('mnt'), '-f'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    for (let i = 0; i < 200 && !err.includes('serving'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(isMounted(b('mnt')), err);
    fs.writeFileSync(b(`mnt/${sig}`), 'kept');
    child.kill(sig);
    const code = await new Promise((r) => child.on('exit', r));
    assert.is(code, 0, err);
    waitUnmounted(b('mnt'));
    assert.is(fs.readFileSync(b(`lower/${sig}`), 'utf8'), 'kept');
  });
}

t('a busy mount is detached on SIGTERM and served until its files close', async () => {
  const child = spawn(process.execPath, [BIN, 'mount', b('lower'), b('mnt'), '-f'], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !isMounted(b('mnt')); i++) await new Promise((r) => setTimeout(r, 50));
  const fd = fs.openSync(b('mnt/busy'), 'w');
  child.kill('SIGTERM');
  waitUnmounted(b('mnt'));
  fs.writeSync(fd, 'late write');
  fs.closeSync(fd);
  const code = await new Promise((r) => child.on('exit', r));
  assert.is(code, 0);
  assert.is(fs.readFileSync(b('lower/busy'), 'utf8'), 'late write');
});

t.run();
