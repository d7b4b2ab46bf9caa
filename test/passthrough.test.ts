// Kernel passthrough is real, mediated I/O is real, and the write trap is
// closed without opening the privilege hole.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { mount, Mount, asUser, sh, CONFIGS } from './helpers.js';

const MiB = 1 << 20;

for (const cfg of CONFIGS) {
  const io = cfg.io;
  const t = suite(`data path (${cfg.name})`);
  let M: Mount;
  t.before(() => {
    M = mount(cfg.args);
  });
  t.after(() => M.umount());

  t('64 MiB written and read back byte-identical; READ/WRITE requests show who served them', async () => {
    const data = crypto.randomBytes(64 * MiB);
    const before = await M.status();
    fs.writeFileSync(M.m('big.bin'), data);
    sh('echo 3 > /proc/sys/vm/drop_caches');
    const back = fs.readFileSync(M.m('big.bin'));
    assert.ok(back.equals(data), 'data read through the mount differs');
    assert.ok(fs.readFileSync(M.l('big.bin')).equals(data), 'data on the lower fs differs');
    const s = await M.status();
    const reads = s.requests.READ - before.requests.READ;
    const writes = s.requests.WRITE - before.requests.WRITE;
    if (io === 'passthrough') {
      assert.is(reads, 0);
      assert.is(writes, 0);
      assert.ok(s.opens.passthrough >= 2);
      assert.is(s.opens.mediated, 0);
    } else {
      assert.ok(reads > 0);
      assert.ok(writes > 0);
      assert.is(s.opens.passthrough, 0);
      assert.ok(s.bytes.written >= 64 * MiB);
      assert.ok(s.bytes.read >= 64 * MiB);
    }
    assert.is(fs.statSync(M.m('big.bin')).size, 64 * MiB);
  });

  t('attributes are right after writes (size, blocks, mtime)', () => {
    const fd = fs.openSync(M.m('grow'), 'w');
    fs.statSync(M.m('grow'));
    fs.writeSync(fd, Buffer.alloc(12345, 1), 0, 12345, 0);
    assert.is(fs.statSync(M.m('grow')).size, 12345);
    fs.writeSync(fd, Buffer.alloc(10, 1), 0, 10, 50000);
    assert.is(fs.fstatSync(fd).size, 50010);
    fs.closeSync(fd);
    assert.is(fs.statSync(M.m('grow')).size, fs.statSync(M.l('grow')).size);
    assert.is(fs.statSync(M.m('grow')).mtimeMs, fs.statSync(M.l('grow')).mtimeMs);
  });

  t('a 4 KiB write loop sends no GETXATTR per write, and xattrs still work', async () => {
    fs.writeFileSync(M.m('loop'), '');
    const before = (await M.status()).requests.GETXATTR;
    const fd = fs.openSync(M.m('loop'), 'r+');
    const block = Buffer.alloc(4096, 3);
    for (let i = 0; i < 2000; i++) fs.writeSync(fd, block, 0, 4096, i * 4096);
    fs.closeSync(fd);
    const after = (await M.status()).requests.GETXATTR;
    assert.ok(after - before < 10, `${after - before} GETXATTR requests for 2000 writes`);
    sh(`setfattr -n user.k -v v ${M.m('loop')}`);
    assert.match(sh(`getfattr -n user.k --only-values ${M.m('loop')}`), 'v');
  });

  t('a non-root write to a world-writable setuid/setgid file clears the bits exactly as natively', () => {
    const native = M.l('native-6777');
    const through = M.l('mounted-6777');
    for (const p of [native, through]) {
      fs.writeFileSync(p, 'x');
      fs.chmodSync(p, 0o6777);
    }
    const a = asUser(`echo more >> ${native}`);
    const b = asUser(`echo more >> ${M.m('mounted-6777')}`);
    assert.is(a.status, 0, a.stderr);
    assert.is(b.status, 0, b.stderr);
    const want = fs.statSync(native).mode & 0o7777;
    assert.is(want, 0o777);
    assert.is((fs.statSync(through).mode & 0o7777).toString(8), want.toString(8));
    assert.is(fs.readFileSync(through, 'utf8'), 'xmore\n');
    // setgid without group-exec: cleared for a writer outside the file's group, natively and here
    for (const p of [native, through]) fs.chmodSync(p, 0o2666);
    asUser(`echo more >> ${native}`);
    asUser(`echo more >> ${M.m('mounted-6777')}`);
    assert.is(fs.statSync(through).mode & 0o7777, fs.statSync(native).mode & 0o7777);
    // truncation by a non-root user clears them too
    for (const p of [native, through]) fs.chmodSync(p, 0o6777);
    asUser(`truncate -s 0 ${native}`);
    asUser(`truncate -s 0 ${M.m('mounted-6777')}`);
    assert.is(fs.statSync(through).mode & 0o7777, fs.statSync(native).mode & 0o7777);
    // root keeps them (CAP_FSETID), natively and here
    for (const p of [native, through]) fs.chmodSync(p, 0o6777);
    fs.appendFileSync(native, 'r');
    fs.appendFileSync(M.m('mounted-6777'), 'r');
    assert.is(fs.statSync(through).mode & 0o7777, 0o6777);
    assert.is(fs.statSync(native).mode & 0o7777, 0o6777);
  });

  t('mmap reads and writes', () => {
    const data = crypto.randomBytes(1 * MiB);
    fs.writeFileSync(M.m('map'), data);
    const out = sh(`python3 -c "
import mmap, hashlib
with open('${M.m('map')}', 'r+b') as f:
    m = mmap.mmap(f.fileno(), 0)
    print(hashlib.sha256(m[:]).hexdigest())
    m[0:6] = b'MAPPED'
    m.flush()
"`).trim();
    assert.is(out, crypto.createHash('sha256').update(data).digest('hex'));
    assert.is(fs.readFileSync(M.l('map')).subarray(0, 6).toString(), 'MAPPED');
  });

  if (io === 'passthrough') {
    t('two concurrent opens of one file share one backing id', async () => {
      fs.writeFileSync(M.l('shared'), 'abc');
      const before = (await M.status()).backing.opened;
      const a = fs.openSync(M.m('shared'), 'r');
      const b = fs.openSync(M.m('shared'), 'r+');
      fs.writeSync(b, 'Z', 0);
      const buf = Buffer.alloc(3);
      fs.readSync(a, buf, 0, 3, 0);
      assert.is(buf.toString(), 'Zbc');
      const mid = await M.status();
      assert.is(mid.backing.opened - before, 1);
      assert.ok(mid.backing.live >= 1);
      fs.closeSync(a);
      fs.closeSync(b);
      // RELEASE reaches the daemon in the background: wait for the backing file to be closed.
      let after = await M.status();
      for (let i = 0; i < 100 && after.backing.closed === mid.backing.closed; i++) {
        await new Promise((r) => setTimeout(r, 20));
        after = await M.status();
      }
      assert.is(after.backing.closed, mid.backing.closed + 1);
    });

    t('a non-root writer of a setuid file is served mediated; root writers stay in passthrough', async () => {
      fs.writeFileSync(M.l('suid'), 'x');
      fs.chmodSync(M.l('suid'), 0o4777);
      const before = await M.status();
      asUser(`echo y >> ${M.m('suid')}`);
      const after = await M.status();
      assert.is(after.opens.privilegedMediated - before.opens.privilegedMediated, 1);
      assert.is(fs.statSync(M.l('suid')).mode & 0o7777, 0o777);
    });
  }

  t.run();
}
