// Every request a mirror serves, each compared with the same operation on the
// lower directory, error paths included. Run once per I/O mode.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { native } from '../src/native/index.js';
import { AT_FDCWD } from '../src/native/linux.js';
import { mount, Mount, code, statOf, asUser, sh, scratch, USER, CONFIGS } from './helpers.js';

const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;

for (const cfg of CONFIGS) {
  const io = cfg.io;
  const t = suite(`ops (${cfg.name})`);
  let M: Mount;
  t.before(() => {
    M = mount(cfg.args);
  });
  t.after(() => M.umount());

  t('lookup and getattr mirror the lower file', () => {
    fs.writeFileSync(M.l('a.txt'), 'hello');
    fs.mkdirSync(M.l('dir'));
    assert.equal(statOf(M.m('a.txt')), statOf(M.l('a.txt')));
    assert.equal(statOf(M.m('dir')), statOf(M.l('dir')));
    assert.is(code(() => fs.statSync(M.m('missing'))), 'ENOENT');
  });

  t('create, write, read, flush, release, fsync', () => {
    const fd = fs.openSync(M.m('new.txt'), 'w+', 0o640);
    fs.writeSync(fd, 'abcdef', 0);
    fs.writeSync(fd, 'XY', 2);
    fs.fsyncSync(fd);
    fs.fdatasyncSync(fd);
    const b = Buffer.alloc(6);
    fs.readSync(fd, b, 0, 6, 0);
    fs.closeSync(fd);
    assert.is(b.toString(), 'abXYef');
    assert.is(fs.readFileSync(M.l('new.txt'), 'utf8'), 'abXYef');
    assert.is(fs.statSync(M.l('new.txt')).mode & 0o777, 0o640);
    assert.is(code(() => fs.openSync(M.m('new.txt'), 'wx')), 'EEXIST');
    assert.is(code(() => fs.openSync(M.m('nodir/x'), 'w')), 'ENOENT');
  });

  t('append, O_TRUNC and truncate', () => {
    fs.writeFileSync(M.m('ap.txt'), 'one');
    fs.appendFileSync(M.m('ap.txt'), '-two');
    assert.is(fs.readFileSync(M.l('ap.txt'), 'utf8'), 'one-two');
    fs.writeFileSync(M.m('ap.txt'), 'x');
    assert.is(fs.readFileSync(M.l('ap.txt'), 'utf8'), 'x');
    fs.truncateSync(M.m('ap.txt'), 10);
    assert.is(fs.statSync(M.l('ap.txt')).size, 10);
    assert.is(fs.statSync(M.m('ap.txt')).size, 10);
  });

  t('setattr: chmod, chown, utimens', () => {
    fs.writeFileSync(M.m('attr.txt'), 'x');
    fs.chmodSync(M.m('attr.txt'), 0o4711);
    assert.is(fs.statSync(M.l('attr.txt')).mode & 0o7777, 0o4711);
    fs.chownSync(M.m('attr.txt'), 123, 456);
    const st = fs.statSync(M.l('attr.txt'));
    assert.is(st.uid, 123);
    assert.is(st.gid, 456);
    fs.utimesSync(M.m('attr.txt'), 1000, 2000);
    assert.is(fs.statSync(M.l('attr.txt')).mtimeMs, 2000_000);
    assert.is(fs.statSync(M.l('attr.txt')).atimeMs, 1000_000);
    assert.equal(statOf(M.m('attr.txt')), statOf(M.l('attr.txt')));
  });

  t('timestamps before 1970 are set as given', () => {
    fs.writeFileSync(M.m('old.txt'), 'x');
    fs.utimesSync(M.m('old.txt'), new Date(-1000_000), new Date(-630720000_000)); // numbers below 0 would mean "now" to Node
    const st = fs.statSync(M.l('old.txt'), { bigint: true });
    assert.is(st.atimeNs, -1000n * 1_000_000_000n);
    assert.is(st.mtimeNs, -630720000n * 1_000_000_000n);
    assert.equal(statOf(M.m('old.txt')), statOf(M.l('old.txt')));
  });

  t('names longer than 255 bytes: ENAMETOOLONG, as on the lower file system', () => {
    const long = 'n'.repeat(256);
    fs.writeFileSync(M.m('short.txt'), 'x');
    assert.is(code(() => fs.statSync(M.l(long))), 'ENAMETOOLONG');
    assert.is(code(() => fs.statSync(M.m(long))), 'ENAMETOOLONG');
    assert.is(code(() => fs.mkdirSync(M.m(long))), 'ENAMETOOLONG');
    assert.is(code(() => fs.writeFileSync(M.m(long), 'x')), 'ENAMETOOLONG');
    assert.is(code(() => fs.renameSync(M.m('short.txt'), M.m(long))), 'ENAMETOOLONG');
    assert.is(code(() => fs.symlinkSync('short.txt', M.m(long))), 'ENAMETOOLONG');
    fs.writeFileSync(M.m('n'.repeat(255)), 'x');
    assert.ok(fs.existsSync(M.l('n'.repeat(255))));
  });

  t('offsets and sizes from 2^53 on: exact through passthrough, refused (never rounded) when mediated', () => {
    // tmpfs takes files up to 2^63 - 1 bytes (ext4: 16 TiB), so the lower side can hold them.
    const tl = scratch('passfs-tmpfs-');
    sh(`mount -t tmpfs -o size=16m tmpfs ${tl}`);
    let T: Mount | undefined;
    try {
      T = mount(cfg.args, path.join(tl, 'lower'));
      const big = 2n ** 62n + 1n;
      sh(`truncate -s ${big + 9n} ${T.l('big')}`);
      assert.is(fs.statSync(T.m('big'), { bigint: true }).size, big + 9n, 'a size past 2^53 comes through exactly');
      const w = spawnSync('dd', ['if=/dev/zero', `of=${T.m('w')}`, 'bs=10', 'count=1', `seek=${big}`, 'oflag=seek_bytes', 'conv=notrunc'], { encoding: 'utf8' });
      const r = spawnSync('dd', [`if=${T.m('big')}`, 'of=/dev/null', 'bs=5', 'count=1', `skip=${big}`, 'iflag=skip_bytes'], { encoding: 'utf8' });
      if (io === 'passthrough') {
        // The kernel reads and writes the lower file itself: exact.
        assert.is(w.status, 0, w.stderr);
        assert.is(fs.statSync(T.l('w'), { bigint: true }).size, big + 10n);
        assert.is(r.status, 0, r.stderr);
      } else {
        assert.is.not(w.status, 0);
        assert.match(w.stderr, /File too large/);
        assert.is(fs.statSync(T.l('w')).size, 0, 'nothing written at a rounded offset');
        assert.is.not(r.status, 0);
        assert.match(r.stderr, /Value too large/);
      }
      // A truncate is served by the daemon in every mode.
      const tr = spawnSync('truncate', ['-s', String(big), T.m('t')], { encoding: 'utf8' });
      assert.is.not(tr.status, 0);
      assert.match(tr.stderr, /File too large/);
      assert.is(fs.statSync(T.l('t')).size, 0);
      sh(`truncate -s ${2 ** 53 - 1} ${T.m('t')}`);
      assert.is(fs.statSync(T.l('t')).size, 2 ** 53 - 1);
    } finally {
      T?.umount();
      sh(`umount ${tl}`);
      fs.rmSync(tl, { recursive: true, force: true });
    }
  });

  t('symlink and readlink; the daemon hands links back as text', () => {
    fs.symlinkSync('a.txt', M.m('ln'));
    assert.is(fs.readlinkSync(M.l('ln')), 'a.txt');
    assert.is(fs.readlinkSync(M.m('ln')), 'a.txt');
    assert.is(fs.readFileSync(M.m('ln'), 'utf8'), 'hello');
    assert.is(code(() => fs.symlinkSync('x', M.m('ln'))), 'EEXIST');
  });

  t('mknod: fifo and character device', () => {
    sh(`mkfifo ${M.m('fifo')} && mknod ${M.m('null2')} c 1 3`);
    assert.ok(fs.lstatSync(M.l('fifo')).isFIFO());
    const d = fs.lstatSync(M.l('null2'));
    assert.ok(d.isCharacterDevice());
    assert.is(fs.lstatSync(M.m('null2')).rdev, d.rdev);
  });

  t('mkdir, rmdir, ENOTEMPTY, EEXIST', () => {
    fs.mkdirSync(M.m('d1'), 0o751);
    assert.is(fs.statSync(M.l('d1')).mode & 0o777, 0o751);
    fs.writeFileSync(M.m('d1/f'), '');
    assert.is(code(() => fs.rmdirSync(M.m('d1'))), 'ENOTEMPTY');
    assert.is(code(() => fs.mkdirSync(M.m('d1'))), 'EEXIST');
    fs.unlinkSync(M.m('d1/f'));
    fs.rmdirSync(M.m('d1'));
    assert.not.ok(fs.existsSync(M.l('d1')));
    assert.is(code(() => fs.rmdirSync(M.m('d1'))), 'ENOENT');
  });

  t('unlink keeps open files readable', () => {
    fs.writeFileSync(M.m('gone'), 'still here');
    const fd = fs.openSync(M.m('gone'), 'r');
    fs.unlinkSync(M.m('gone'));
    assert.not.ok(fs.existsSync(M.l('gone')));
    const b = Buffer.alloc(10);
    fs.readSync(fd, b, 0, 10, 0);
    fs.closeSync(fd);
    assert.is(b.toString(), 'still here');
    assert.is(code(() => fs.unlinkSync(M.m('gone'))), 'ENOENT');
  });

  t('rename, rename2 NOREPLACE and EXCHANGE, EXDEV', () => {
    fs.writeFileSync(M.m('r1'), '1');
    fs.writeFileSync(M.m('r2'), '2');
    fs.mkdirSync(M.m('rd'));
    fs.renameSync(M.m('r1'), M.m('rd/r1'));
    assert.is(fs.readFileSync(M.l('rd/r1'), 'utf8'), '1');
    assert.is(native.renameat2(AT_FDCWD, M.m('rd/r1'), AT_FDCWD, M.m('r2'), RENAME_NOREPLACE), -17);
    assert.is(native.renameat2(AT_FDCWD, M.m('rd/r1'), AT_FDCWD, M.m('r2'), RENAME_EXCHANGE), 0);
    assert.is(fs.readFileSync(M.l('r2'), 'utf8'), '1');
    assert.is(fs.readFileSync(M.l('rd/r1'), 'utf8'), '2');
    const other = scratch();
    assert.is(code(() => fs.renameSync(M.m('r2'), path.join(other, 'x'))), 'EXDEV');
    assert.is(code(() => fs.linkSync(M.m('r2'), path.join(other, 'x'))), 'EXDEV');
    fs.rmSync(other, { recursive: true });
    fs.mkdirSync(M.m('full'));
    fs.writeFileSync(M.m('full/x'), '');
    fs.mkdirSync(M.m('empty'));
    assert.is(code(() => fs.renameSync(M.m('empty'), M.m('full'))), 'ENOTEMPTY');
  });

  t('link shares the inode', () => {
    fs.writeFileSync(M.m('h1'), 'data');
    fs.linkSync(M.m('h1'), M.m('h2'));
    assert.is(fs.statSync(M.m('h1')).ino, fs.statSync(M.m('h2')).ino);
    assert.is(fs.statSync(M.m('h2')).nlink, 2);
    assert.is(fs.statSync(M.l('h1')).nlink, 2);
    assert.is(code(() => fs.linkSync(M.m('h1'), M.m('h2'))), 'EEXIST');
  });

  t('readdir and readdirplus list what the lower directory holds', () => {
    fs.mkdirSync(M.l('big'));
    for (let i = 0; i < 1500; i++) fs.writeFileSync(M.l(`big/file-with-a-longish-name-${i}`), '');
    const want = fs.readdirSync(M.l('big')).sort();
    assert.equal(fs.readdirSync(M.m('big')).sort(), want);
    // The second listing is served with cached entries: still identical.
    assert.equal(fs.readdirSync(M.m('big')).sort(), want);
    const types = fs.readdirSync(M.m('.'), { withFileTypes: true }).map((d) => `${d.name}:${d.isDirectory()}`).sort();
    const ltypes = fs.readdirSync(M.l('.'), { withFileTypes: true }).map((d) => `${d.name}:${d.isDirectory()}`).sort();
    assert.equal(types, ltypes);
  });

  t('fsyncdir', () => {
    const fd = fs.openSync(M.m('.'), 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  });

  t('statfs', () => {
    const a = fs.statfsSync(M.m('.'));
    const b = fs.statfsSync(M.l('.'));
    assert.is(a.bsize, b.bsize);
    assert.is(a.blocks, b.blocks);
  });

  t('xattrs: set, get, list, remove', () => {
    fs.writeFileSync(M.m('x.txt'), '');
    sh(`setfattr -n user.color -v blue ${M.m('x.txt')}`);
    assert.match(sh(`getfattr -n user.color --only-values ${M.l('x.txt')}`), 'blue');
    assert.match(sh(`getfattr -n user.color --only-values ${M.m('x.txt')}`), 'blue');
    assert.match(sh(`getfattr -d ${M.m('x.txt')}`), 'user.color="blue"');
    sh(`setfattr -x user.color ${M.m('x.txt')}`);
    assert.not.match(sh(`getfattr -d ${M.l('x.txt')}`), 'user.color');
    const r = asUser(`getfattr -n user.nothing ${M.m('x.txt')}`);
    assert.match(r.stderr, 'No such attribute');
  });

  t('fallocate, lseek SEEK_DATA/SEEK_HOLE, copy_file_range', () => {
    const fd = fs.openSync(M.m('sparse'), 'w+');
    assert.is(native.fallocate(fd, 0, 0, 65536), 0);
    assert.is(fs.fstatSync(fd).size, 65536);
    fs.writeSync(fd, Buffer.alloc(4096, 7), 0, 4096, 1 << 20);
    const SEEK_DATA = 3, SEEK_HOLE = 4;
    const lfd = fs.openSync(M.l('sparse'), 'r');
    assert.is(native.lseek(fd, 65536, SEEK_DATA), native.lseek(lfd, 65536, SEEK_DATA));
    assert.is(native.lseek(fd, 0, SEEK_HOLE), native.lseek(lfd, 0, SEEK_HOLE));
    assert.is(native.lseek(fd, (1 << 20) + 8192, SEEK_DATA), -6); // ENXIO past the last data
    fs.closeSync(lfd);
    const out = fs.openSync(M.m('copy'), 'w+');
    assert.is(native.copyFileRange(fd, 1 << 20, out, 0, 4096, 0), 4096);
    fs.closeSync(out);
    fs.closeSync(fd);
    assert.equal(fs.readFileSync(M.l('copy')), Buffer.alloc(4096, 7));
  });

  t('permissions for a non-root user through allow_other: EACCES', () => {
    fs.writeFileSync(M.m('secret'), 'x');
    fs.chmodSync(M.m('secret'), 0o600);
    assert.match(asUser(`cat ${M.m('secret')}`).stderr, 'Permission denied');
    assert.match(asUser(`touch ${M.m('newfile')}`).stderr, 'Permission denied');
    assert.not.ok(fs.existsSync(M.l('newfile')));
    assert.match(asUser(`chmod 777 ${M.m('secret')}`).stderr, 'Operation not permitted');
  });

  t('new files, directories, links and nodes belong to the caller', () => {
    fs.mkdirSync(M.m('pub'));
    fs.chmodSync(M.m('pub'), 0o777);
    const r = asUser(`cd ${M.m('pub')} && touch f && mkdir d && ln -s f s && mkfifo p && ln f h && echo ok`);
    assert.is(r.stdout.trim(), 'ok', r.stderr);
    for (const n of ['f', 'd', 's', 'p']) {
      const st = fs.lstatSync(M.l('pub', n));
      assert.is(`${n}:${st.uid}:${st.gid}`, `${n}:${USER.uid}:${USER.gid}`);
    }
    // setgid directory: new entries take the directory's group, as natively
    fs.mkdirSync(M.m('sg'));
    fs.chownSync(M.m('sg'), 0, 77);
    fs.chmodSync(M.m('sg'), 0o2777);
    asUser(`mkdir ${M.m('sg/sub')} && touch ${M.m('sg/file')}`);
    assert.is(fs.statSync(M.l('sg/file')).gid, 77);
    assert.is(fs.statSync(M.l('sg/sub')).gid, 77);
    assert.ok(fs.statSync(M.l('sg/sub')).mode & 0o2000);
  });

  t('mmap reads and writes', () => {
    fs.writeFileSync(M.m('mm'), Buffer.alloc(8192, 'a'));
    sh(`python3 -c "
import mmap
with open('${M.m('mm')}', 'r+b') as f:
    m = mmap.mmap(f.fileno(), 8192)
    assert m[0:4] == b'aaaa'
    m[100:105] = b'HELLO'
    m.flush()
    m.close()
"`);
    const b = fs.readFileSync(M.l('mm'));
    assert.is(b.subarray(100, 105).toString(), 'HELLO');
    assert.is(fs.readFileSync(M.m('mm')).subarray(100, 105).toString(), 'HELLO');
  });

  t('names that are not UTF-8 survive', () => {
    const name = Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x74]);
    const p = Buffer.concat([Buffer.from(M.mnt + '/'), name]);
    fs.writeFileSync(p, 'bytes');
    assert.ok(fs.readdirSync(M.lower, { encoding: 'buffer' }).some((n) => n.equals(name)));
  });

  t('status counts requests by opcode', async () => {
    const s = await M.status();
    for (const op of ['LOOKUP', 'GETATTR', 'SETATTR', 'CREATE', 'MKDIR', 'MKNOD', 'SYMLINK', 'READLINK', 'LINK', 'UNLINK',
      'RMDIR', 'RENAME', 'RENAME2', 'OPEN', 'RELEASE', 'FSYNC', 'OPENDIR', 'RELEASEDIR', 'FSYNCDIR', 'STATFS',
      'SETXATTR', 'GETXATTR', 'LISTXATTR', 'REMOVEXATTR', 'FALLOCATE', 'LSEEK']) {
      assert.ok(s.requests[op] > 0, `${op} was never served`);
    }
    assert.ok(s.requests.READDIRPLUS + s.requests.READDIR > 0);
    // Passthrough opens are FOPEN_NOFLUSH: close(2) costs no round trip (README, "Round trips").
    if (io === 'passthrough') assert.is(s.requests.FLUSH ?? 0, 0, 'FLUSH was sent');
    else assert.ok(s.requests.FLUSH > 0, 'a writable mediated open keeps FLUSH');
    assert.ok(s.requests.COPY_FILE_RANGE + s.requests.COPY_FILE_RANGE_64 > 0);
    assert.is(s.io, io);
    assert.is(s.workers.alive, s.workers.count);
  });

  t.run();
}
