// The mount never grants what the lower mount forbids: a setuid binary, a
// device node and an executable on a nosuid,nodev,noexec lower are refused
// through the mount exactly as natively, a read-only lower is read-only
// through it, passfs mounts nosuid,nodev unless told otherwise, and mounts
// found inside LOWER are crossed only when they forbid nothing the passfs
// mount allows. Every check runs as an unprivileged user through
// --allow-other and is compared with the same operation done natively.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { asUser, cli, code, isMounted, mount, Mount, scratch, sh, USER } from './helpers.js';
import { logPath } from '../src/server/control.js';

const t = suite('mount flags');
const tmpfsDirs: string[] = [];
const mounts: Mount[] = [];

/** A fresh tmpfs mounted with `opts`, holding a setuid-root `id`, a /dev/zero node and a world-writable file. */
function tmpfsLower(opts: string): string {
  const dir = scratch('passfs-flags-');
  fs.chmodSync(dir, 0o755);
  const low = path.join(dir, 'lower');
  fs.mkdirSync(low);
  sh(`mount -t tmpfs -o ${opts === '' ? 'mode=755' : `${opts},mode=755`} passfs-test ${low}`);
  tmpfsDirs.push(low);
  fs.copyFileSync('/usr/bin/id', path.join(low, 'id'));
  fs.chmodSync(path.join(low, 'id'), 0o4755);
  sh(`mknod ${path.join(low, 'zero')} c 1 5 && chmod 666 ${path.join(low, 'zero')}`);
  fs.writeFileSync(path.join(low, 'data'), 'data');
  fs.chmodSync(path.join(low, 'data'), 0o666);
  return low;
}

function mountOn(low: string, args: string[] = []): Mount {
  const m = mount(args, low);
  mounts.push(m);
  return m;
}

/** What an unprivileged user gets from running the setuid `id -u`, reading the device, writing the file. */
function probe(dir: string) {
  const run = asUser(`${dir}/id -u`);
  const dev = asUser(`head -c 4 ${dir}/zero | od -An -tx1`);
  const write = asUser(`echo more >> ${dir}/data`);
  return {
    exec: run.status === 0 ? `euid ${run.stdout.trim()}` : /Permission denied/.test(run.stderr) ? 'EACCES' : `failed: ${run.stderr.trim()}`,
    dev: dev.status === 0 && dev.stdout.trim() === '00 00 00 00' ? 'reads' : /Permission denied/.test(dev.stderr) ? 'EACCES' : `failed: ${dev.stderr.trim()}`,
    write: write.status === 0 ? 'ok' : /Read-only file system/.test(write.stderr) ? 'EROFS' : `failed: ${write.stderr.trim()}`,
  };
}

/** The options /proc/mounts shows for the mount at `mnt`. */
function optionsOf(mnt: string): string[] {
  const line = fs.readFileSync('/proc/mounts', 'utf8').split('\n').find((l) => l.split(' ')[1] === mnt);
  assert.ok(line, `${mnt} is in /proc/mounts`);
  return line!.split(' ')[3].split(',');
}

t.after(() => {
  for (const m of mounts.reverse()) m.umount();
  for (const d of tmpfsDirs.reverse()) sh(`umount ${d} 2>/dev/null || umount -l ${d} 2>/dev/null || true`);
  for (const d of tmpfsDirs) fs.rmSync(path.dirname(d), { recursive: true, force: true });
});

t('a nosuid,nodev,noexec lower: setuid binary, device and executable refused through the mount as natively', () => {
  const low = tmpfsLower('nosuid,nodev,noexec');
  const native = probe(low);
  assert.equal(native, { exec: 'EACCES', dev: 'EACCES', write: 'ok' });
  const M = mountOn(low);
  assert.equal(probe(M.mnt), native);
  const o = optionsOf(M.mnt);
  for (const f of ['nosuid', 'nodev', 'noexec']) assert.ok(o.includes(f), `${f} in ${o}`);
});

t('a nosuid lower: the binary runs, without its setuid, as natively', () => {
  const low = tmpfsLower('nosuid,nodev');
  const native = probe(low);
  assert.equal(native, { exec: `euid ${USER.uid}`, dev: 'EACCES', write: 'ok' });
  assert.equal(probe(mountOn(low).mnt), native);
});

t('passfs mounts nosuid,nodev by default; --suid and --dev allow what the lower allows', () => {
  const low = tmpfsLower('');
  assert.equal(probe(low), { exec: 'euid 0', dev: 'reads', write: 'ok' });
  const plain = mountOn(low);
  assert.equal(probe(plain.mnt), { exec: `euid ${USER.uid}`, dev: 'EACCES', write: 'ok' });
  const o = optionsOf(plain.mnt);
  assert.ok(o.includes('nosuid') && o.includes('nodev') && !o.includes('noexec'), `${o}`);
  const open = mountOn(low, ['--suid', '--dev']);
  assert.equal(probe(open.mnt), { exec: 'euid 0', dev: 'reads', write: 'ok' });
  const o2 = optionsOf(open.mnt);
  assert.ok(!o2.includes('nosuid') && !o2.includes('nodev'), `${o2}`);
  const closed = mountOn(low, ['--noexec', '--ro']);
  assert.equal(probe(closed.mnt), { exec: 'EACCES', dev: 'EACCES', write: 'EROFS' });
  assert.ok(optionsOf(closed.mnt).includes('ro'));
});

t('--suid or --dev on a lower mount that forbids it is refused, nothing mounted', () => {
  const low = tmpfsLower('nosuid,nodev');
  const mnt = path.join(path.dirname(low), 'mnt');
  fs.mkdirSync(mnt);
  for (const opt of ['--suid', '--dev']) {
    const r = cli(['mount', low, mnt, opt]);
    assert.is.not(r.status, 0);
    assert.match(r.stderr, new RegExp(`${opt}: the lower directory's mount .* is ${opt === '--suid' ? 'nosuid' : 'nodev'}`));
    assert.not.ok(isMounted(mnt));
  }
});

t('mount --help names the defaults and the options that change them', () => {
  const help = cli(['mount', '--help']).stdout.replace(/\s+/g, ' ');
  for (const want of [/--suid .*default: nosuid/, /--dev .*default: nodev/, /--noexec .*lower mount is noexec/, /--ro .*lower mount is read-only/]) {
    assert.match(help, want);
  }
});

t('a read-only lower is read-only through the mount', () => {
  const low = tmpfsLower('nosuid,nodev');
  sh(`mount -o remount,ro ${low}`);
  const native = probe(low);
  assert.is(native.write, 'EROFS');
  const M = mountOn(low);
  assert.equal(probe(M.mnt), native);
  assert.ok(optionsOf(M.mnt).includes('ro'));
  const r = asUser(`touch ${M.m('new')}`);
  assert.match(r.stderr, /Read-only file system/);
});

t('a mount inside LOWER is crossed only when it forbids nothing the passfs mount allows', async () => {
  const outer = scratch('passfs-nested-');
  fs.chmodSync(outer, 0o755);
  const low = path.join(outer, 'lower');
  fs.mkdirSync(low);
  tmpfsDirs.push(low); // removed with the rest (umount fails harmlessly: it is no mount)
  const strict = path.join(low, 'strict');
  const plain = path.join(low, 'plain');
  fs.mkdirSync(strict);
  fs.mkdirSync(plain);
  sh(`mount -t tmpfs -o noexec,mode=755 passfs-test ${strict} && mount -t tmpfs -o mode=755 passfs-test ${plain}`);
  tmpfsDirs.push(strict, plain);
  for (const d of [strict, plain]) {
    fs.writeFileSync(path.join(d, 'run.sh'), '#!/bin/sh\necho ran\n');
    fs.chmodSync(path.join(d, 'run.sh'), 0o755);
  }
  assert.is(asUser(`${strict}/run.sh`).status, 126, 'natively: noexec');
  assert.is(asUser(`${plain}/run.sh`).stdout, 'ran\n');
  // An exec mount: the noexec mount inside is not crossed; the plain one is.
  const M = mountOn(low);
  assert.match(asUser(`ls ${M.m('strict')}`).stderr, /Permission denied/);
  // Each refused lookup is a failing request; the log says so a bounded number of times.
  for (let i = 0; i < 1000; i++) assert.is(code(() => fs.statSync(M.m('strict'))), 'EACCES');
  const said = fs.readFileSync(logPath(fs.realpathSync(M.mnt)), 'utf8').split('\n').filter((l) => l.includes('not entering the mount'));
  const workers = (await M.status()).workers.count;
  assert.ok(said.length >= 1 && said.length <= 10 * workers, `${said.length} lines about the mount not entered (${workers} workers, 10 each)`);
  assert.is(asUser(`${M.m('plain')}/run.sh`).stdout, 'ran\n');
  // A noexec mount may cross into it: there it is as natively.
  const N = mountOn(low, ['--noexec']);
  assert.is(asUser(`cat ${N.m('strict/run.sh')}`).stdout, '#!/bin/sh\necho ran\n');
  assert.is(asUser(`${N.m('strict')}/run.sh`).status, 126);
});

t.run();
