// Nothing reachable through the mount escapes LOWER: links pointing outside,
// "..", and /proc magic links cannot make the daemon open anything outside it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { mount, Mount, scratch, code, asUser, USER } from './helpers.js';

const t = suite('confinement');
let M: Mount;
let outside: string;
t.before(() => {
  outside = scratch('passfs-outside-');
  fs.writeFileSync(path.join(outside, 'secret'), 'outside data');
  M = mount(['--io', 'passthrough']);
});
t.after(() => {
  M.umount();
  fs.rmSync(outside, { recursive: true, force: true });
});

const fuseDev = () => fs.statSync(M.mnt).dev;

t('a symlink in LOWER pointing outside is returned as text, never followed by the daemon', async () => {
  fs.symlinkSync(outside, M.l('out'));
  fs.symlinkSync(path.join(outside, 'secret'), M.l('outfile'));
  assert.is(fs.readlinkSync(M.m('out')), outside);
  // Opening without following fails: the daemon does not open the target.
  assert.is(code(() => fs.openSync(M.m('outfile'), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)), 'ELOOP');
  // Following is the caller's own doing, in its own view: it lands on the
  // outside file system, not on a file served by the daemon.
  const before = (await M.status()).requests.LOOKUP;
  assert.is.not(fs.statSync(M.m('out/secret')).dev, fuseDev());
  const after = (await M.status()).requests.LOOKUP;
  assert.ok(after - before <= 1, 'the daemon must not be asked to look up names beyond the link');
});

t('".." at the root of the mount leaves the mount in the caller\'s view, not into LOWER\'s parent', () => {
  fs.writeFileSync(path.join(M.base, 'marker'), '');
  assert.is(fs.realpathSync(path.join(M.mnt, '..')), M.base);
  assert.is(fs.statSync(path.join(M.mnt, '..')).dev, fs.statSync(M.base).dev);
  assert.is(code(() => fs.statSync(path.join(M.mnt, '..', 'lower', '..', '..', 'nonexistent-passfs'))), 'ENOENT');
});

t('relative links climbing out of LOWER resolve in the mount, not beside LOWER', () => {
  fs.writeFileSync(path.join(M.base, 'beside'), 'next to lower');
  fs.symlinkSync('../beside', M.l('climb'));
  // Natively ../beside from LOWER is M.base/beside; through the mount it is
  // M.base/beside too, because the kernel resolves it in the mount's parent:
  // the daemon never resolves it (it is only asked for the link text).
  assert.is(fs.readlinkSync(M.m('climb')), '../beside');
  assert.is.not(fs.statSync(M.m('climb')).dev, fuseDev());
});

t('/proc magic links stored in LOWER are just text for the daemon', () => {
  fs.symlinkSync('/proc/self/root/etc/passwd', M.l('magic'));
  fs.symlinkSync('/proc/self/cwd', M.l('magicdir'));
  assert.is(fs.readlinkSync(M.m('magic')), '/proc/self/root/etc/passwd');
  assert.is(code(() => fs.openSync(M.m('magic'), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)), 'ELOOP');
  // A non-root user following it gets what it would get natively: its own view.
  const r = asUser(`cat ${M.m('magicdir')}/x 2>&1; echo done`);
  assert.match(r.stdout, 'done');
});

t('a directory replaced by a symlink between lookups does not lead the daemon out', () => {
  fs.mkdirSync(M.l('swap'));
  fs.writeFileSync(M.l('swap/f'), 'inside');
  assert.is(fs.readFileSync(M.m('swap/f'), 'utf8'), 'inside');
  // Replace the directory with a link to the outside behind the daemon's back.
  fs.rmSync(M.l('swap'), { recursive: true });
  fs.symlinkSync(outside, M.l('swap'));
  // Through the mount, "swap" is now a symlink: reading swap/secret resolves it
  // in the caller's view (outside fs), never through the daemon.
  const p = M.m('swap/secret');
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (st) assert.is.not(st.dev, fuseDev());
});

t('names with slashes or dots never reach the lower fs as paths', () => {
  // (no path.join: it would normalise the dots away before the kernel sees them)
  assert.is(code(() => fs.writeFileSync(`${M.mnt}/nodir/../../escape`, 'x')), 'ENOENT');
  fs.mkdirSync(M.m('realdir'));
  fs.writeFileSync(`${M.mnt}/realdir/../escape2`, 'x');
  assert.ok(fs.existsSync(M.l('escape2')), 'dots are resolved by the kernel inside the mount');
  assert.not.ok(fs.existsSync(path.join(M.base, 'escape')));
});

t('the kernel keeps checking permissions (default_permissions)', () => {
  fs.mkdirSync(M.m('private'), 0o700);
  fs.writeFileSync(M.m('private/f'), 'x');
  assert.match(asUser(`ls ${M.m('private')} 2>&1`).stdout, 'Permission denied');
  assert.match(asUser(`cat ${M.m('private/f')} 2>&1`).stdout, 'Permission denied');
});


t('a create racing a file that appears on the lower side opens it only as the caller could', async () => {
  // The kernel's lookup finds no "y", then root's 0600 file is renamed to
  // "y" on the lower side before the CREATE: the daemon must not open it as
  // root. No entry caching, so that every append looks "y" up again.
  const R = mount(['--io', 'passthrough', '--attr-timeout', '0']);
  const flip = spawn(process.execPath, ['-e', `
    const fs = require('fs'); const a = ${JSON.stringify(R.l('race', 'rootfile'))}, b = ${JSON.stringify(R.l('race', 'y'))};
    const end = Date.now() + 20000;
    while (Date.now() < end) { try { fs.renameSync(a, b); fs.renameSync(b, a); } catch {} }`], { stdio: 'ignore' });
  try {
    fs.mkdirSync(R.l('race'));
    fs.chownSync(R.l('race'), USER.uid, USER.gid);
    fs.writeFileSync(R.l('race', 'rootfile'), 'root only\n', { mode: 0o600 });
    asUser('for i in $(seq 1 3000); do echo PWNED >> y 2>/dev/null; done', R.m('race'));
    flip.kill('SIGKILL');
    await new Promise((r) => flip.once('exit', r));
    const owned = ['rootfile', 'y'].map((n) => R.l('race', n)).filter((p) => fs.existsSync(p) && fs.statSync(p).uid === 0);
    assert.is(owned.length, 1);
    assert.is(fs.readFileSync(owned[0], 'utf8'), 'root only\n', 'root\'s file was not written through the race');
  } finally {
    flip.kill('SIGKILL');
    R.umount();
  }
});

t('fallocate and copy_file_range by a non-root caller clear suid/sgid, as natively', () => {
  fs.writeFileSync(M.l('src'), 'BBBB');
  for (const n of ['fa', 'cfr']) {
    fs.writeFileSync(M.l(n), 'AAAAAAAA');
    // root's, writable by the caller's group (the case the kernel leaves to the daemon)
    fs.chownSync(M.l(n), 0, USER.gid);
    fs.chmodSync(M.l(n), 0o6775);
  }
  fs.chmodSync(M.l('src'), 0o644);
  // Debian's python3 (setup.sh installs it): a shim under /root would not run as the user.
  const py = (s: string) => asUser(`/usr/bin/python3 -c '${s}'`, M.mnt);
  let r = py('import os; fd = os.open("fa", os.O_WRONLY); os.posix_fallocate(fd, 0, 65536)');
  assert.is(r.status, 0, r.stderr);
  r = py('import os; i = os.open("src", os.O_RDONLY); o = os.open("cfr", os.O_WRONLY); os.copy_file_range(i, o, 4, 0, 0)');
  assert.is(r.status, 0, r.stderr);
  assert.is(fs.statSync(M.l('fa')).mode & 0o7777, 0o775);
  assert.is(fs.statSync(M.l('cfr')).mode & 0o7777, 0o775);
  assert.is(fs.readFileSync(M.l('cfr'), 'utf8'), 'BBBBAAAA');
});
t.run();
