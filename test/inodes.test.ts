// The shared inode table: hash index, lookup counts, slot reuse, lock recovery.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { allocateInodeTable, InodeTable, IoMode } from '../src/fs/inodes.js';
import { encodeDev, decodeDev } from '../src/fuse/codec.js';

test('random inserts, finds and forgets agree with a Map', () => {
  const t = new InodeTable(allocateInodeTable(1024), 1);
  t.init(3, 1, 2);
  const model = new Map<string, number>();
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < 20000; i++) {
    const dev = 1 + Math.floor(rnd() * 2);
    const ino = 100 + Math.floor(rnd() * 1500) * 2 ** 20; // large inode numbers too
    const key = `${dev}:${ino}`;
    t.lock();
    const s = t.find(dev, ino);
    assert.is(s >= 0, model.has(key), `find ${key}`);
    if (s < 0 && model.size < 1000) {
      const n = t.insert(10 + i, 0o100000, dev, ino);
      assert.ok(n > 0);
      model.set(key, n);
    } else if (s >= 0) {
      assert.is(s, model.get(key));
      if (rnd() < 0.5) {
        const fd = t.fd(s);
        assert.is(t.forget(s, 1), fd);
        model.delete(key);
      }
    }
    t.unlock();
  }
  assert.is(t.inUse(), model.size);
});

test('the root is never forgotten; a full table says so', () => {
  const t = new InodeTable(allocateInodeTable(16), 1);
  t.init(3, 1, 2);
  assert.is(t.forget(0, 1e9), -1);
  assert.ok(t.valid(0));
  for (let i = 0; i < 15; i++) assert.ok(t.insert(10 + i, 0, 1, 1000 + i) > 0);
  assert.is(t.insert(99, 0, 1, 5), -1);
});

test('one I/O mode per inode, shared backing file, released with the last open', () => {
  const t = new InodeTable(allocateInodeTable(16), 1);
  t.init(3, 1, 2);
  const s = t.insert(10, 0o100000, 1, 7);
  t.addOpen(s, IoMode.Passthrough, 5, 20);
  t.addOpen(s, IoMode.Mediated); // joins: the mode stays
  assert.is(t.ioMode(s), IoMode.Passthrough);
  assert.is(t.backingId(s), 5);
  assert.is(t.dropOpen(s), null);
  assert.equal(t.dropOpen(s), [5, 20]);
  assert.is(t.ioMode(s), IoMode.None);
});

test('a dead owner\'s lock can be broken, nobody else\'s', () => {
  const mem = allocateInodeTable(16);
  const a = new InodeTable(mem, 1);
  const main = new InodeTable(mem, 99);
  a.init(3, 1, 2);
  a.lock();
  assert.not.ok(main.breakLock(2));
  assert.ok(main.breakLock(1));
  main.lock();
  main.unlock();
});

test('device numbers survive the 32-bit FUSE encoding', () => {
  for (const [major, minor] of [[1, 3], [8, 17], [259, 1], [4095, 1048575]]) {
    const glibc = (minor & 0xff) + major * 256 + (minor & ~0xff) * 4096;
    assert.is(decodeDev(encodeDev(glibc)), glibc);
  }
});

test.run();
