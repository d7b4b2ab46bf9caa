// Per-file policy on real mounts: each kind of match decides the path a
// file's I/O takes (proved by the request counters), denials return the
// configured errno and leave nothing behind, the one-mode-per-inode rule is
// handled without EIO, reload takes valid files and refuses invalid ones,
// and every decision leaves an audit line.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { mount, Mount, asUser, cli, code, scratch, sh, USER } from './helpers.js';

const POLICY = `version: 1
default: passthrough
rules:
  - name: secrets
    match: { path: ["secrets/**"] }
    action: deny
    errno: EPERM
  - name: readonly-area
    match: { path: ["ro/**"], mode: [write] }
    action: deny
    errno: EROFS
  - name: users-mediated
    match: { path: ["shared/**"], uid: [${USER.uid}] }
    action: mediated
  - name: by-process
    match: { path: ["audited/**"], comm: ["passfs-probe*"] }
    action: mediated
    audit: true
  - name: big
    match: { size: ">= 1M" }
    action: mediated
  - name: elf
    match: { content: { magic: "7f454c46" } }
    action: mediated
  - name: creates
    match: { path: ["incoming/**"], mode: [create] }
    action: mediated
  - name: logs-append-mediated
    match: { path: ["logs/**"], mode: [write, create, truncate] }
    action: mediated
    audit: true
`;

const t = suite('policy on a mount');
let M: Mount;
let dir: string;
let policyFile: string;
let auditFile: string;
t.before(() => {
  dir = scratch('passfs-policy-');
  policyFile = path.join(dir, 'policy.yaml');
  auditFile = path.join(dir, 'audit.jsonl');
  fs.writeFileSync(policyFile, POLICY);
  const lower = path.join(dir, 'lower');
  for (const d of ['secrets', 'ro', 'shared', 'incoming', 'plain', 'audited', 'logs']) fs.mkdirSync(path.join(lower, d), { recursive: true });
  fs.chmodSync(lower, 0o777);
  for (const d of ['shared', 'incoming']) fs.chmodSync(path.join(lower, d), 0o777);
  fs.writeFileSync(path.join(lower, 'secrets/key'), 'k');
  fs.writeFileSync(path.join(lower, 'ro/file'), 'ro');
  fs.writeFileSync(path.join(lower, 'ro/ww'), 'world-writable');
  fs.chmodSync(path.join(lower, 'ro/ww'), 0o666);
  fs.chmodSync(path.join(lower, 'plain'), 0o777);
  fs.writeFileSync(path.join(lower, 'shared/doc'), 'shared');
  fs.chmodSync(path.join(lower, 'shared/doc'), 0o666);
  fs.writeFileSync(path.join(lower, 'plain/small'), 'small');
  fs.writeFileSync(path.join(lower, 'audited/small'), 'small');
  fs.writeFileSync(path.join(lower, 'logs/app.log'), 'start\n');
  fs.chmodSync(path.join(lower, 'logs/app.log'), 0o644);
  fs.writeFileSync(path.join(lower, 'plain/large'), Buffer.alloc(2 << 20, 1));
  fs.writeFileSync(path.join(lower, 'plain/prog'), Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(100)]));
  // The short timeout, so that records go stale within a test (the deep-path tests need it).
  M = mount(['--policy', policyFile, '--audit', auditFile, '--attr-timeout', '1000'], lower);
});
t.after(() => {
  M.umount();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Exit status of a shell command (0 on success). */
function asUserCode(cmd: string): number {
  try {
    sh(`${cmd} > /dev/null 2>&1`);
    return 0;
  } catch (e) {
    return (e as { status: number }).status;
  }
}

/** Requests READ+WRITE served by the daemon while `fn` runs. */
async function mediatedIo(fn: () => void): Promise<number> {
  const a = (await M.status()).requests;
  fn();
  const b = (await M.status()).requests;
  return b.READ - a.READ + b.WRITE - a.WRITE;
}

const audit = () => fs.readFileSync(auditFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

t('deny by path returns the configured errno', async () => {
  assert.is(code(() => fs.readFileSync(M.m('secrets/key'))), 'EPERM');
  const s = await M.status();
  assert.ok(s.opens.denied >= 1);
  assert.ok(s.policy.rules[0].hits >= 1);
});

t('a denied create leaves nothing behind', () => {
  assert.is(code(() => fs.writeFileSync(M.m('secrets/new'), 'x')), 'EPERM');
  assert.not.ok(fs.existsSync(M.l('secrets/new')));
});

t('status counts the decisions and what they cost', async () => {
  const before = (await M.status()).policy;
  for (let i = 0; i < 40; i++) fs.readFileSync(M.m('plain/small'));
  const after = (await M.status()).policy;
  assert.ok(after.decisions >= before.decisions + 40, `${before.decisions} -> ${after.decisions}`);
  assert.ok(after.microsPerDecision > 0 && after.microsPerDecision < 1e6, String(after.microsPerDecision));
});

t('decisions follow renames through the mount, on every CPU (remembered paths are dropped)', () => {
  fs.mkdirSync(M.l('plain/mv'));
  fs.writeFileSync(M.l('plain/mv/k'), 'k');
  fs.writeFileSync(M.l('plain/f2'), 'f');
  fs.writeFileSync(M.l('secrets/out'), 'o');
  // Opened (and so remembered) from both CPUs, hence by both workers over the rings.
  for (const cpu of [0, 1]) assert.is(sh(`taskset -c ${cpu} cat ${M.m('plain/mv/k')} ${M.m('plain/f2')}`), 'kf');
  fs.renameSync(M.m('plain/mv'), M.m('secrets/mv'));
  fs.renameSync(M.m('plain/f2'), M.m('secrets/f2'));
  for (const cpu of [0, 1]) {
    assert.is(asUserCode(`taskset -c ${cpu} cat ${M.m('secrets/mv/k')}`), 1, `cpu ${cpu}: a directory moved under secrets/`);
    assert.is(asUserCode(`taskset -c ${cpu} cat ${M.m('secrets/f2')}`), 1, `cpu ${cpu}: a file moved under secrets/`);
  }
  assert.is(code(() => fs.readFileSync(M.m('secrets/mv/k'))), 'EPERM');
  // Out again: a denied file does not lose its denial by a rename (issue 16); moving it in was fine.
  assert.is(code(() => fs.renameSync(M.m('secrets/out'), M.m('plain/out'))), 'EPERM');
  assert.is(fs.readFileSync(M.l('secrets/out'), 'utf8'), 'o');
});

t('a node id reused after the kernel forgets a file is judged by its new path', () => {
  fs.writeFileSync(M.l('plain/gone'), 'g');
  assert.is(fs.readFileSync(M.m('plain/gone'), 'utf8'), 'g');
  fs.unlinkSync(M.m('plain/gone'));
  fs.writeFileSync('/proc/sys/vm/drop_caches', '2'); // the kernel forgets its inodes
  for (let i = 0; i < 20; i++) fs.writeFileSync(M.l(`secrets/n${i}`), 'n');
  for (let i = 0; i < 20; i++) assert.is(code(() => fs.readFileSync(M.m(`secrets/n${i}`))), 'EPERM', `secrets/n${i}`);
});

t('deny by access mode: reads pass, writes get EROFS', () => {
  assert.is(fs.readFileSync(M.m('ro/file'), 'utf8'), 'ro');
  assert.is(code(() => fs.appendFileSync(M.m('ro/file'), 'x')), 'EROFS');
  assert.is(fs.readFileSync(M.l('ro/file'), 'utf8'), 'ro');
});

t('a file is decided per inode: a hard link cannot give it a name with other rules', () => {
  // Through the mount: refused when the two names decide differently (the user may link a world-writable file).
  assert.match(asUser(`ln ${M.m('ro/ww')} ${M.m('plain/ww-alias')} 2>&1`).stdout, 'Operation not permitted');
  assert.is(code(() => fs.linkSync(M.m('secrets/key'), M.m('plain/key-alias'))), 'EPERM');
  assert.not.ok(fs.existsSync(M.l('plain/ww-alias')));
  fs.linkSync(M.m('plain/small'), M.m('plain/small-alias')); // alike: allowed
  fs.unlinkSync(M.m('plain/small-alias'));
  // Made beside the mount: once one name was denied, every name of the inode is.
  fs.writeFileSync(M.l('secrets/key2'), 'k2');
  fs.linkSync(M.l('secrets/key2'), M.l('plain/key2-alias'));
  assert.is(code(() => fs.readFileSync(M.m('secrets/key2'))), 'EPERM');
  assert.is(code(() => fs.readFileSync(M.m('plain/key2-alias'))), 'EPERM');
  fs.linkSync(M.l('ro/file'), M.l('plain/ro-alias'));
  assert.is(code(() => fs.appendFileSync(M.m('ro/file'), 'x')), 'EROFS');
  assert.is(code(() => fs.appendFileSync(M.m('plain/ro-alias'), 'x')), 'EROFS');
  assert.is(fs.readFileSync(M.m('plain/ro-alias'), 'utf8'), 'ro', 'reads were not denied');
  // An O_RDWR open denied for its write side does not make reads of the file denied.
  fs.writeFileSync(M.l('ro/rw'), 'rw');
  fs.linkSync(M.l('ro/rw'), M.l('plain/rw-alias'));
  assert.is(code(() => fs.openSync(M.m('ro/rw'), 'r+')), 'EROFS');
  assert.is(fs.readFileSync(M.m('plain/rw-alias'), 'utf8'), 'rw');
  assert.is(code(() => fs.appendFileSync(M.m('plain/rw-alias'), 'x')), 'EROFS');
  fs.unlinkSync(M.l('plain/rw-alias'));
  // The memory is of that file: a later file that gets its inode number is not denied.
  // (With two names the kernel's OPEN does not say which was used: the denied name is opened while it is the only one.)
  fs.writeFileSync(M.l('secrets/doomed'), 'd');
  assert.is(code(() => fs.readFileSync(M.m('secrets/doomed'))), 'EPERM');
  fs.linkSync(M.l('secrets/doomed'), M.l('plain/doomed'));
  assert.is(code(() => fs.readFileSync(M.m('plain/doomed'))), 'EPERM', 'denied under every name');
  fs.linkSync(M.m('secrets/doomed'), M.m('secrets/doomed2')); // alike: allowed
  fs.unlinkSync(M.m('secrets/doomed2'));
  fs.unlinkSync(M.l('plain/doomed'));
  fs.unlinkSync(M.l('secrets/doomed'));
  // (A later file that gets the inode number is not denied: test/inodes.test.ts, the birth time.)
  // A rename is a new name too.
  assert.is(code(() => fs.renameSync(M.m('secrets/key'), M.m('plain/moved-key'))), 'EPERM');
  assert.ok(fs.existsSync(M.l('secrets/key')));
  fs.writeFileSync(M.m('plain/mv1'), 'm');
  fs.renameSync(M.m('plain/mv1'), M.m('plain/mv2')); // alike: allowed
  fs.unlinkSync(M.m('plain/mv2'));
  const lines = audit().filter((l) => l.path === 'plain/key2-alias');
  assert.ok(lines.some((l) => l.decision === 'deny' && l.rule === 'same-inode'));
  fs.unlinkSync(M.l('plain/key2-alias'));
  fs.unlinkSync(M.l('plain/ro-alias'));
});

t('truncate(2) is decided as a write with O_TRUNC', () => {
  // truncate(2) itself (Node's truncateSync and coreutils' truncate open the file first).
  const truncate = (p: string, n: number) => spawnSync('/usr/bin/python3', ['-c', `import os, sys\ntry: os.truncate(${JSON.stringify(p)}, ${n})\nexcept OSError as e: sys.exit(e.strerror)`], { encoding: 'utf8' }).stderr.trim();
  assert.is(truncate(M.m('ro/file'), 0), 'Read-only file system');
  assert.is(truncate(M.m('secrets/key'), 0), 'Operation not permitted');
  assert.is(fs.readFileSync(M.l('ro/file'), 'utf8'), 'ro');
  assert.is(fs.readFileSync(M.l('secrets/key'), 'utf8'), 'k');
  fs.writeFileSync(M.m('plain/t'), 'abc');
  assert.is(truncate(M.m('plain/t'), 1), '');
  assert.is(fs.readFileSync(M.l('plain/t'), 'utf8'), 'a');
  // (audit lines are written behind the reply)
  for (let i = 0; i < 40 && !audit().some((l) => l.event === 'truncate'); i++) spawnSync('sleep', ['0.05']);
  assert.ok(audit().some((l) => l.event === 'truncate' && l.path === 'ro/file' && l.decision === 'deny'), 'the truncate is in the trail');
});

t('mknod of a regular file is decided as a create', () => {
  const mknod = (p: string) => spawnSync('/usr/bin/python3', ['-c', `import os, stat, sys\ntry: os.mknod(${JSON.stringify(p)}, 0o644 | stat.S_IFREG)\nexcept OSError as e: sys.exit(e.strerror)`], { encoding: 'utf8' }).stderr.trim();
  assert.is(mknod(M.m('secrets/made')), 'Operation not permitted');
  assert.is(mknod(M.m('ro/made')), 'Read-only file system');
  assert.not.ok(fs.existsSync(M.l('secrets/made')) || fs.existsSync(M.l('ro/made')), 'nothing left behind');
  assert.is(mknod(M.m('plain/made')), '');
  assert.ok(fs.statSync(M.l('plain/made')).isFile());
  fs.unlinkSync(M.l('plain/made'));
});

t('by uid: a non-root user is mediated, root is passed through', async () => {
  const byUser = await mediatedIo(() => assert.is(asUser(`cat ${M.m('shared/doc')}`).stdout, 'shared'));
  assert.ok(byUser > 0, 'the user\'s read should reach the daemon');
  sh('echo 3 > /proc/sys/vm/drop_caches');
  const byRoot = await mediatedIo(() => assert.is(fs.readFileSync(M.m('shared/doc'), 'utf8'), 'shared'));
  assert.is(byRoot, 0);
});

t('by process name: audited mediated I/O', async () => {
  fs.copyFileSync('/bin/cat', path.join(dir, 'passfs-probe'));
  const n = await mediatedIo(() => assert.is(sh(`${path.join(dir, 'passfs-probe')} ${M.m('audited/small')}`), 'small'));
  assert.ok(n > 0);
  const lines = audit();
  assert.ok(lines.some((l) => l.event === 'open' && l.rule === 'by-process' && l.comm === 'passfs-probe' && l.path === 'audited/small'));
  assert.ok(lines.some((l) => l.event === 'read' && l.path === 'audited/small'));
  // copy_file_range out of an audited file: its read side is in the trail too.
  fs.copyFileSync('/usr/bin/python3', path.join(dir, 'passfs-probe-py'));
  const before = audit().filter((l) => l.event === 'read' && l.path === 'audited/small').length;
  sh(`${path.join(dir, 'passfs-probe-py')} -c 'import os; i = os.open("${M.m('audited/small')}", os.O_RDONLY); o = os.open("${M.m('plain/copy')}", os.O_WRONLY | os.O_CREAT, 0o644); os.copy_file_range(i, o, 5, 0, 0)'`);
  assert.is(fs.readFileSync(M.l('plain/copy'), 'utf8'), 'small');
  assert.ok(audit().filter((l) => l.event === 'read' && l.path === 'audited/small').length > before, 'the read side of copy_file_range');
});

t('by size and by content', async () => {
  sh('echo 3 > /proc/sys/vm/drop_caches');
  assert.ok((await mediatedIo(() => fs.readFileSync(M.m('plain/large')))) > 0, 'large file mediated');
  assert.ok((await mediatedIo(() => fs.readFileSync(M.m('plain/prog')))) > 0, 'ELF mediated');
  assert.is(await mediatedIo(() => fs.readFileSync(M.m('plain/small'))), 0);
});

t('by mode: creates under incoming/ are mediated', async () => {
  assert.ok((await mediatedIo(() => fs.writeFileSync(M.m('incoming/up'), 'data'))) > 0);
  assert.is(fs.readFileSync(M.l('incoming/up'), 'utf8'), 'data');
});

t('one mode per inode: a mediated rule meeting an inode in passthrough joins it (unaudited rules)', async () => {
  // root holds shared/doc open in passthrough; the user's rule wants it mediated
  const holder = spawn('sh', ['-c', `exec 3<${M.m('shared/doc')}; exec sleep 3`]);
  await new Promise((r) => setTimeout(r, 300));
  const joined = (await M.status()).opens.joinedInodeMode;
  const r = asUser(`cat ${M.m('shared/doc')}`);
  assert.is(r.stdout, 'shared', r.stderr);
  holder.kill();
  await new Promise((r) => holder.on('exit', r));
  const s = await M.status();
  assert.is(s.opens.joinedInodeMode, joined + 1);
  assert.is(s.opens.modeConflicts, 0);
  // A writer who joins passthrough is one whose writes cannot clear suid: a chmod adding it is refused meanwhile.
  const reader = spawn('sh', ['-c', `exec 3<${M.m('shared/doc')}; exec sleep 3`]);
  await new Promise((r) => setTimeout(r, 300));
  const writer = spawn('sh', ['-c', `exec 3>>${M.m('shared/doc')}; exec sleep 3`], { uid: USER.uid, gid: USER.gid });
  for (let i = 0; i < 100 && (await M.status()).opens.joinedInodeMode < joined + 2; i++) await new Promise((r) => setTimeout(r, 50));
  assert.is(code(() => fs.chmodSync(M.m('shared/doc'), 0o4666)), 'EBUSY');
  for (const p of [reader, writer]) p.kill();
  await Promise.all([reader, writer].map((p) => new Promise((r) => p.on('exit', r))));
  assert.is(fs.statSync(M.l('shared/doc')).mode & 0o7777, 0o666);
  // (the kernel sends RELEASE in the background: wait until the inode is closed)
  for (let i = 0; i < 50 && (await M.status()).openFiles.some((f: any) => f.path === 'shared/doc'); i++) await new Promise((r) => setTimeout(r, 50));
  // the other way round: a passthrough opener joins an inode that is mediated
  const user = spawn('sh', ['-c', `exec 3<${M.m('shared/doc')}; exec sleep 5`], { uid: USER.uid, gid: USER.gid });
  // wait until the user's open is in place (the machine may be busy)
  for (let i = 0; i < 100 && !(await M.status()).openFiles.some((f: any) => f.path === 'shared/doc'); i++) await new Promise((r) => setTimeout(r, 50));
  assert.is(fs.readFileSync(M.m('shared/doc'), 'utf8'), 'shared');
  const open = (await M.status()).openFiles.find((f: any) => f.path === 'shared/doc');
  assert.is(open?.mode, 'mediated');
  user.kill();
  await new Promise((r) => user.on('exit', r));
  assert.ok((await M.status()).opens.joinedInodeMode >= 1);
});

t('a reader cannot make an audited writer fail: files an audited rule could mediate are mediated for every open', async () => {
  // The docs' example rule: logs/** mediated and audited for write, create, truncate.
  const reader = spawn('sh', ['-c', `exec 3<${M.m('logs/app.log')}; exec sleep 3`], { uid: USER.uid, gid: USER.gid });
  for (let i = 0; i < 100 && !(await M.status()).openFiles.some((f: any) => f.path === 'logs/app.log'); i++) await new Promise((r) => setTimeout(r, 50));
  const open = (await M.status()).openFiles.find((f: any) => f.path === 'logs/app.log');
  assert.is(open?.mode, 'mediated', 'the reader is mediated (unaudited)');
  fs.appendFileSync(M.m('logs/app.log'), 'root was here\n');
  reader.kill();
  await new Promise((r) => reader.on('exit', r));
  assert.is(fs.readFileSync(M.l('logs/app.log'), 'utf8'), 'start\nroot was here\n');
  const lines = audit().filter((l) => l.path === 'logs/app.log');
  assert.ok(lines.some((l) => l.event === 'open' && l.uid === USER.uid && l.decision === 'mediated' && !l.audited && /could be audited/.test(l.reason)));
  assert.ok(lines.some((l) => l.event === 'write' && l.uid === 0), 'root\'s append is audited');
  assert.is((await M.status()).opens.modeConflicts, 0);
});

t('status shows files open right now, with their mode and opener', async () => {
  const holder = spawn('sh', ['-c', `exec 3<${M.m('plain/small')}; exec sleep 2`]);
  await new Promise((r) => setTimeout(r, 300));
  const s = await M.status();
  const f = s.openFiles.find((o: any) => o.path === 'plain/small');
  assert.ok(f, JSON.stringify(s.openFiles));
  assert.is(f.mode, 'passthrough');
  assert.ok(['sh', 'sleep'].includes(f.opener.comm), f.opener.comm); // the opener exec'd sleep, same pid
  holder.kill();
  await new Promise((r) => holder.on('exit', r));
});

t('reload: a valid file takes effect for new opens; an invalid one is refused with line and reason', async () => {
  fs.writeFileSync(policyFile, POLICY.replace('errno: EPERM', 'errno: ENOENT'));
  const ok = cli(['reload', M.mnt]);
  assert.is(ok.status, 0, ok.stderr);
  assert.is(code(() => fs.readFileSync(M.m('secrets/key'))), 'ENOENT');
  fs.writeFileSync(policyFile, POLICY.replace('action: deny\n    errno: EROFS', 'action: forbid'));
  const bad = cli(['reload', M.mnt]);
  assert.is.not(bad.status, 0);
  assert.match(bad.stderr, /policy\.yaml:\d+: .*action/);
  assert.is(code(() => fs.readFileSync(M.m('secrets/key'))), 'ENOENT', 'the running policy stays');
  // SIGHUP does the same
  fs.writeFileSync(policyFile, POLICY);
  process.kill((await M.status()).pid, 'SIGHUP');
  await new Promise((r) => setTimeout(r, 300));
  assert.is(code(() => fs.readFileSync(M.m('secrets/key'))), 'EPERM');
});

t('a file below a 5000-byte path is decided by its path, as deep as natively', () => {
  // Fifty 99-byte directories: deeper than PATH_MAX, so the kernel cannot
  // tell the daemon the path; the shell reaches it one cd at a time.
  const D = 'd'.repeat(99);
  const deep = (top: string) => spawnSync('sh', ['-c',
    `cd "$1" && i=0 && while [ $i -lt 50 ]; do mkdir -p ${D} && cd -P ${D} || exit 2; i=$((i+1)); done; echo deep > f && cat f`, 'sh', top],
  { encoding: 'utf8' });
  fs.mkdirSync(M.l('plain-native'));
  try {
    const native = deep(M.l('plain-native'));
    assert.is(native.stdout, 'deep\n', native.stderr);
    const through = deep(M.m('plain'));
    assert.is(through.stdout, 'deep\n', through.stderr);
    assert.is(through.status, 0);
    // The path decides: below secrets/ the create is denied as the policy says.
    const denied = deep(M.m('secrets'));
    assert.match(denied.stderr, /Operation not permitted/);
    const line = audit().find((l) => l.create && l.path.startsWith('plain/') && l.path.endsWith('/f'));
    assert.ok(line, 'the audit line of the deep create');
    assert.is(line.path, `plain/${Array(50).fill(D).join('/')}/f`);
  } finally {
    sh(`rm -rf ${M.l('plain-native')} ${M.l('plain', D)} ${M.l('secrets', D)}`); // deeper than fs.rmSync goes
  }
});

t('below a 5000-byte path, a file opened after the records are old is still decided by its path', () => {
  // Made on the lower side; the shell walks down through the mount, waits
  // past the entry timeout (1 s), then opens: the path must be found again
  // (from where the file was last looked up, checked), never guessed.
  const D = 'd'.repeat(99);
  const walk = (top: string, then: string) => spawnSync('sh', ['-c',
    `cd "$1" && i=0 && while [ $i -lt 50 ]; do mkdir -p ${D} && cd -P ${D} || exit 2; i=$((i+1)); done; ${then}`, 'sh', top],
  { encoding: 'utf8' });
  try {
    for (const top of ['secrets', 'plain']) assert.is(walk(M.l(top), 'echo deep > f').status, 0);
    const denied = walk(M.m('secrets'), 'sleep 1.5; cat f');
    assert.match(denied.stderr, /Operation not permitted/);
    assert.is(denied.stdout, '');
    const allowed = walk(M.m('plain'), 'sleep 1.5; cat f');
    assert.is(allowed.stdout, 'deep\n', allowed.stderr);
    const line = audit().filter((l) => l.event === 'open' && !l.create && l.path.endsWith(`${D}/f`)).at(-1);
    assert.ok(line, 'the audit line of the deep open');
    assert.is(line.path, `plain/${Array(50).fill(D).join('/')}/f`);
  } finally {
    sh(`rm -rf ${M.l('plain', D)} ${M.l('secrets', D)}`);
  }
});

t('audit: one line per decision with the documented fields', () => {
  const lines = audit();
  const opens = lines.filter((l) => l.event === 'open');
  for (const l of opens) for (const k of ['time', 'pid', 'uid', 'gid', 'comm', 'path', 'flags', 'decision', 'rule', 'reason']) assert.ok(k in l, `${k} in ${JSON.stringify(l)}`);
  assert.ok(opens.some((l) => l.decision === 'deny' && l.rule === 'secrets'));
  assert.ok(opens.some((l) => l.decision === 'mediated' && l.rule === 'users-mediated' && l.uid === USER.uid));
  assert.ok(opens.some((l) => l.decision === 'passthrough' && l.rule === 'default'));
});

t('bad policy and audit options are refused at mount time, nothing mounted', () => {
  const bad = path.join(dir, 'bad.yaml');
  fs.writeFileSync(bad, 'version: 1\nrules: []\n');
  const base = scratch();
  fs.mkdirSync(path.join(base, 'l'));
  fs.mkdirSync(path.join(base, 'm'));
  const r = cli(['mount', path.join(base, 'l'), path.join(base, 'm'), '--policy', bad]);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /bad\.yaml:\d*:? ?.*default/);
  const good = path.join(base, 'good.yaml');
  fs.writeFileSync(good, 'version: 1\ndefault: passthrough\nrules: []\n');
  const r2 = cli(['mount', path.join(base, 'l'), path.join(base, 'm'), '--policy', good, '--audit', '/nonexistent/dir/audit.log']);
  assert.is.not(r2.status, 0);
  assert.match(r2.stderr, 'cannot write audit log');
  fs.rmSync(base, { recursive: true });
});

t.run();
