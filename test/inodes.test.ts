// The shared inode table: hash index, lookup counts, slot reuse, lock recovery.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { allocateInodeTable, InodeTable, IoMode } from '../src/fs/inodes.js';
import { encodeDev, decodeDev } from '../src/fuse/codec.js';
import { Worker } from 'node:worker_threads';

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
  t.addOpen(s, IoMode.Passthrough, 5);
  t.addOpen(s, IoMode.Mediated); // joins: the mode stays
  assert.is(t.ioMode(s), IoMode.Passthrough);
  assert.is(t.backingId(s), 5);
  assert.is(t.dropOpen(s), 0);
  assert.is(t.dropOpen(s), 5);
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

test('the lock excludes under contention: three threads, long critical sections, no update lost', async () => {
  const mem = allocateInodeTable(16);
  const t = new InodeTable(mem, 1);
  t.init(3, 1, 2);
  const counter = new Int32Array(new SharedArrayBuffer(8));
  const ROUNDS = 500;
  // Each thread increments a plain (non-atomic) counter under the lock, with a
  // pause inside, so that the others spin past their limit and sleep: a lost
  // wake-up would show as a stall of the wait's 1 ms timeout, a broken
  // exclusion as a lost increment.
  // The helpers run the real InodeTable, compiled (dist/ is built by the
  // test set-up, like the daemon the mount tests start).
  const body = `
    const { workerData: w } = require('node:worker_threads');
    import(w.module).then(({ InodeTable }) => {
      const t = new InodeTable(w.mem, w.owner);
      const c = new Int32Array(w.counter);
      for (let i = 0; i < w.rounds; i++) {
        t.lock();
        const v = c[0];
        for (let k = 0; k < 20000; k++) c[1] += k;
        c[0] = v + 1;
        t.unlock();
      }
    });`;
  const helpers = [2, 3].map((owner) => new Worker(body, { eval: true, workerData: { module: new URL('../dist/fs/inodes.js', import.meta.url).href, mem, counter: counter.buffer, owner, rounds: ROUNDS } }));
  for (let i = 0; i < ROUNDS; i++) {
    t.lock();
    const v = counter[0];
    for (let k = 0; k < 20000; k++) counter[1] += k;
    counter[0] = v + 1;
    t.unlock();
  }
  await Promise.all(helpers.map((h) => new Promise((r) => h.on('exit', r))));
  assert.is(counter[0], 3 * ROUNDS);
  assert.is(new Int32Array(mem.meta)[3], 0, 'no waiter left counted');
});

test('device numbers survive the 32-bit FUSE encoding', () => {
  for (const [major, minor] of [[1, 3], [8, 17], [259, 1], [4095, 1048575]]) {
    const glibc = (minor & 0xff) + major * 256 + (minor & ~0xff) * 4096;
    assert.is(decodeDev(encodeDev(glibc)), glibc);
  }
});

test('the denial memory: per inode and birth, per policy, the reserve and the limit', () => {
  const t = new InodeTable(allocateInodeTable(1024), 1);
  t.init(3, 1, 2, 100, 0);
  const a = t.insert(10, 0o100000, 1, 500, true, 1000, 5);
  t.addDenial(a, 7, 1, 13);
  assert.is(t.deniedBits(a, 7), 1);
  assert.is(t.deniedErrno, 13);
  assert.is(t.deniedBits(a, 9), 0, 'another policy');
  // The kernel forgets it; the same inode comes back in another slot: still remembered.
  assert.is(t.forget(a, 1), 10);
  const b = t.insert(11, 0o100000, 1, 500, true, 1000, 5);
  assert.is(t.deniedBits(b, 7), 1);
  t.addDenial(b, 7, 2, 30);
  assert.is(t.deniedBits(b, 7), 3);
  // A later file with the same number (another birth) is not it, and a denial of it starts afresh.
  t.forget(b, 1);
  const c = t.insert(12, 0o100000, 1, 500, true, 2000, 0);
  assert.is(t.deniedBits(c, 7), 0);
  t.addDenial(c, 7, 2, 1);
  assert.is(t.deniedBits(c, 7), 2);
  // At most `limit` inodes, the last `reserve` of them root's.
  t.forget(c, 1);
  assert.is(t.reserve, 16);
  let n = 0;
  while (t.insert(100 + n, 0o100000, 1, 1000 + n, false) >= 0) n++;
  assert.is(n, 100 - 16, 'others stop at the reserve');
  while (t.insert(100 + n, 0o100000, 1, 1000 + n, true) >= 0) n++;
  assert.is(n, 100, 'root takes it');
  assert.is(t.inUse(), 100);
});


test('the descriptor cache: eviction within the budget, in clock order, never a pinned slot or one without a handle; forget while pinned frees at the last unpin', () => {
  const t = new InodeTable(allocateInodeTable(1024), 1);
  t.init(3, 1, 2, 1024, 200); // a budget of 200 descriptors: root's reserve 16, eviction 64 below it
  const h = new Uint8Array(16);
  const slots: number[] = [];
  for (let i = 0; i < 150; i++) {
    const s = t.insert(1000 + i, 0o100000, 1, 5000 + i);
    if (i !== 7) t.setHandle(s, h, 8, 0); // slot 7's inode cannot have a handle
    slots.push(s);
  }
  assert.is(t.cachedFds(), 150);
  assert.ok(t.overBudget());
  assert.is(t.pin(slots[3]), 1003);
  const out = new Int32Array(64);
  const n = t.evict(out);
  assert.is(n, 64);
  assert.is(t.cachedFds(), 150 - 64);
  assert.ok(!Array.from(out).includes(1003), 'a pinned descriptor stays');
  assert.ok(!Array.from(out).includes(1007), 'one without a handle stays');
  for (const fd of out) {
    const s = slots[fd - 1000];
    assert.is(t.fd(s), -1);
    assert.is(t.pin(s), -1, 'an evicted slot must be reopened');
    assert.ok(t.valid(s) && t.handleLen(s) === 8, 'and keeps its handle');
  }
  // Reinstalled: pinned, counted, marked as reopened by handle.
  const back = slots[out[0] - 1000];
  assert.ok(!t.reopenedByHandle(back));
  assert.is(t.install(back, 777), 777);
  assert.is(t.install(back, 778), 777, 'a second install gets the first descriptor');
  assert.ok(t.reopenedByHandle(back));
  assert.is(t.cachedFds(), 150 - 64 + 1);
  // Forgotten while pinned: freed (its descriptor returned to close) at the last unpin only.
  assert.is(t.forget(slots[3], 1), -1);
  assert.ok(t.valid(slots[3]));
  assert.is(t.unpin(slots[3]), 1003);
  assert.ok(!t.valid(slots[3]));
  assert.is(t.unpin(slots[3]), -1, 'an unpin too many changes nothing');
  // Looked up again before its last unpin: not freed.
  t.pin(back);
  t.forget(back, 1);
  t.addLookup(back);
  t.unpin(back);
  assert.is(t.unpin(back), -1);
  assert.ok(t.valid(back));
  // Nothing evictable: no scan at all.
  const u = new InodeTable(allocateInodeTable(64), 1);
  u.init(3, 1, 2, 64, 40);
  for (let i = 0; i < 30; i++) u.insert(100 + i, 0o100000, 1, 70 + i);
  assert.ok(!u.overBudget(), 'descriptors without handles cannot be evicted');
  assert.ok(!u.roomForFd(false) && u.roomForFd(true), 'but the last of the budget is still root\'s');
});

test('a forgotten inode keeps its slot, node id and generation until the slot is reused (oldest first); another file of its number does not', () => {
  const t = new InodeTable(allocateInodeTable(16), 1);
  t.init(3, 1, 2);
  const h = new Uint8Array(16);
  const a = t.insert(10, 0o100000, 1, 500, true, 1000, 1);
  t.setHandle(a, h, 8, 0);
  const gen = t.generation(a);
  assert.is(t.forget(a, 1), 10);
  assert.is(t.find(1, 500), -1, 'not found while forgotten');
  assert.ok(!t.valid(a) && t.forgotten(a));
  const b = t.insert(11, 0o100000, 1, 501, true, 1000, 2);
  assert.is.not(b, a, 'a new inode takes the oldest free slot, not the one just freed');
  // Looked up again: the same slot, node id and generation.
  assert.is(t.insert(12, 0o100000, 1, 500, true, 1000, 1), a);
  assert.is(t.generation(a), gen);
  assert.is(t.handleLen(a), 8, 'its handle kept');
  // By its file handle (LOOKUP "."): only with the generation it had.
  t.forget(a, 1);
  assert.ok(!t.reviveSlot(a, gen + 1, 13));
  assert.ok(t.reviveSlot(a, gen, 13));
  assert.ok(t.valid(a) && t.reopenedByHandle(a) && t.fd(a) === 13);
  // Another file that got the number (another birth time): a new slot.
  t.forget(a, 1);
  const c = t.insert(14, 0o100000, 1, 500, true, 2000, 0);
  assert.is.not(c, a);
  assert.ok(!t.forgotten(a) && !t.reviveSlot(a, gen, 15));
  // The queue comes round: every slot is used before a freed one is reused, each once.
  const seen = new Set<number>();
  for (let i = 0; i < 40; i++) {
    const s = t.insert(100 + i, 0o100000, 2, 9000 + i);
    assert.ok(s > 0, `insert ${i}`);
    seen.add(s);
    t.forget(s, 1);
  }
  assert.is(t.inUse(), 2);
  assert.ok(seen.size > 10);
});

test.run();
