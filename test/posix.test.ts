// Behaviours where POSIX tests look hardest (issue 17), each compared with
// the same operation done natively on the lower directory: times after
// writes (also through a shared mapping), lseek's edges, access times, O_TMPFILE, file handles.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CONFIGS, mount, Mount, scratch, USER } from './helpers.js';
import { native, St } from '../src/native/index.js';
import { LowerPaths } from '../src/fs/lowerpath.js';
import { O, AT_FDCWD, RESOLVE_CONFINED, MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME } from '../src/native/linux.js';

const PY = '/usr/bin/python3';
const FIXTURES = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures');

/** Run fixture `script` as the test user with `args`; its stdout (the verdicts) and stderr (details). */
function asUser(script: string, ...args: string[]): { out: string; err: string } {
  const r = spawnSync(PY, [path.join(FIXTURES, script), ...args], { encoding: 'utf8', uid: USER.uid, gid: USER.gid });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status}): ${r.stderr}`);
  return { out: r.stdout.trim(), err: r.stderr.trim() };
}

/** A fresh directory for the user, natively (in LOWER) and its twin through the mount. */
function dirs(M: Mount, name: string): { native: string; mounted: string; lowerOfMounted: string } {
  for (const d of [`native-${name}`, `m-${name}`]) {
    fs.rmSync(M.l(d), { recursive: true, force: true });
    fs.mkdirSync(M.l(d));
    fs.chmodSync(M.l(d), 0o777);
  }
  return { native: M.l(`native-${name}`), mounted: M.m(`m-${name}`), lowerOfMounted: M.l(`m-${name}`) };
}

for (const cfg of CONFIGS.filter((c) => c.name.endsWith('/devfuse') && c.name !== 'mediated-async/devfuse')) {
  const t = suite(`posix (${cfg.name})`);
  let M: Mount;
  t.before(() => { M = mount(cfg.args); });
  t.after(() => M.umount());

  t('times after writes, through a shared mapping too, are the lower file\'s and move as natively', () => {
    const d = dirs(M, 'times');
    const native = asUser('times.py', d.native);
    const mounted = asUser('times.py', d.mounted);
    assert.is(mounted.out, native.out);
    assert.ok(!/same/.test(native.out), native.out);
    for (const line of mounted.err.split('\n')) {
      const [, name, m, c] = line.split(' ');
      const st = fs.statSync(path.join(d.lowerOfMounted, name), { bigint: true });
      assert.equal([m, c], [String(st.mtimeNs), String(st.ctimeNs)], `${name}: the times seen through the mount after close`);
    }
  });

  t('lseek at every edge (SEEK_DATA and SEEK_HOLE at negative offsets, at and past the end, near 2^53 and above) answers as the lower file system', () => {
    const d = dirs(M, 'seeks');
    // SEEK_SET, CUR and END past the lower file system's largest file are the
    // kernel's own answer, by FUSE's limit, not the lower's (README, "Known gaps"): not compared.
    const kernels = (l: string) => / (SET|CUR|END) /.test(l) && Number(l.split(' ')[3]) > 2 ** 40;
    const native = asUser('seeks.py', d.native).out.split('\n');
    const mounted = asUser('seeks.py', d.mounted).out.split('\n');
    assert.is(mounted.length, native.length);
    assert.is(native.filter((l) => / (DATA|HOLE) /.test(l)).length, 3 * 2 * 2 * 21);
    assert.equal(mounted.filter((l, i) => l !== native[i] && !kernels(native[i])), [], 'the lines that differ from the native ones');
  });

  t('O_TMPFILE: an unnamed file, written and read, then named by linkat (not with O_EXCL), as natively', () => {
    const d = dirs(M, 'tmpfile');
    const native = asUser('tmpfile.py', d.native).out;
    assert.match(native, /named holds unnamed data/);
    assert.is(asUser('tmpfile.py', d.mounted).out, native);
    assert.equal(fs.readdirSync(d.lowerOfMounted).sort(), ['named', 'named2']);
  });

  t('file handles: 1000 files, a directory and a hard link open by handle through the mount, also after the kernel forgot them', () => {
    const d = dirs(M, 'handles');
    const run = (dir: string) => {
      const r = spawnSync(PY, [path.join(FIXTURES, 'handles.py'), dir, '1000'], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`handles.py failed: ${r.stderr}`);
      return r.stdout.trim();
    };
    const native = run(d.native);
    assert.match(native, /after drop_caches files 1000 of 1000 errors \{\}/);
    assert.is(run(d.mounted), native);
  });

  t('access times: as the lower mount updates them, and not at all on a noatime mount, for reads, exec and listings', () => {
    const d = dirs(M, 'atime');
    const relatime = asUser('atimes.py', d.native).out;
    assert.is(relatime, 'read moved\nexec moved\nlist moved', 'the lower mount is relatime');
    assert.is(asUser('atimes.py', d.mounted).out, relatime);
    // noatime: natively a noatime bind mount of LOWER, against a passfs --noatime mount of it.
    const view = path.join(M.base, 'noatime-view');
    fs.mkdirSync(view);
    spawnSync('mount', ['--bind', M.lower, view]);
    const N = mount([...cfg.args, '--noatime'], M.lower);
    try {
      assert.is(spawnSync('mount', ['-o', 'remount,bind,noatime', view]).status, 0);
      const e = dirs(M, 'noatime');
      const noatime = asUser('atimes.py', path.join(view, path.basename(e.native))).out;
      assert.is(noatime, 'read same\nexec same\nlist same');
      assert.is(asUser('atimes.py', N.m(path.basename(e.mounted))).out, noatime);
      const st = fs.statSync(path.join(e.lowerOfMounted, 'f'));
      assert.is(st.atimeMs, 946684800000, 'the lower file\'s own atime is untouched');
    } finally {
      N.umount();
      spawnSync('umount', [view]);
    }
  });

  t.run();
}

const lp = suite('lower paths through a private clone of LOWER\'s mount');
lp('a file\'s path is told from the clone\'s root, and a file moved out of LOWER is not taken for one inside', () => {
  const base = scratch();
  try {
    fs.mkdirSync(path.join(base, 'lower/sub'), { recursive: true });
    fs.mkdirSync(path.join(base, 'out/sub'), { recursive: true });
    fs.writeFileSync(path.join(base, 'lower/sub/f'), 'f');
    fs.writeFileSync(path.join(base, 'lower/sub/g'), 'g');
    const root = native.openTreeClone(path.join(base, 'lower'), MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME);
    assert.ok(root >= 0, `openTreeClone: ${root}`);
    const paths = new LowerPaths(native, root, '');
    const f = native.openat2(root, 'sub/f', O.PATH | O.CLOEXEC, 0, RESOLVE_CONFINED);
    const g = native.openat2(root, 'sub/g', O.PATH | O.CLOEXEC, 0, RESOLVE_CONFINED);
    const d = native.openat2(root, 'sub', O.PATH | O.CLOEXEC, 0, RESOLVE_CONFINED);
    assert.is(paths.relative(f), 'sub/f');
    assert.is(paths.relative(d), 'sub');
    assert.is(paths.relative(root), '');
    // Moved beside LOWER, on its file system: the kernel would name it "/<path from the fs root>".
    fs.renameSync(path.join(base, 'lower/sub/g'), path.join(base, 'out/sub/g'));
    assert.throws(() => paths.relative(g), /not a directory|no longer|not under/);
    const st = new Float64Array(St.LENGTH);
    assert.is(native.fstatat(AT_FDCWD, path.join(base, 'out/sub/g'), 0, st), 0);
    for (const fd of [f, g, d, root]) native.close(fd);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});
lp.run();
