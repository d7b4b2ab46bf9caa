// The policy's remembered paths (src/fs/paths.ts): walks to the root, never
// trusts a record whose node or parent slot was reused, follows renames,
// gives up (to the kernel's answer) when a move could not be recorded, and
// renews old records only when the kernel's answer confirms them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { allocateInodeTable, InodeTable } from '../src/fs/inodes.js';
import { allocatePathMemory, PathCache } from '../src/fs/paths.js';

const enc = (s: string) => new TextEncoder().encode(s);
const KERNEL = 'asked-the-kernel';

/**
 * Insert an inode into slot `s`, just freed: free slots are reused oldest
 * first, so other inodes come and go until `s` is the next one.
 */
let filler = 1 << 20;
function reuse(t: InodeTable, s: number, fd: number, type: number, dev: number, ino: number): number {
  while (t.nextFree() !== s) t.forget(t.insert(-1, 0o100000, 99, filler++), 1);
  return t.insert(fd, type, dev, ino);
}

function setup(ttlMs = 60_000, capacity = 64) {
  const t = new InodeTable(allocateInodeTable(capacity), 1);
  t.init(3, 1, 2);
  const p = new PathCache(t, allocatePathMemory(capacity), ttlMs);
  let ino = 100;
  const node = (parent: number, name: string): number => {
    t.lock();
    const s = t.insert(10 + ino, 0o100000, 1, ino++);
    t.unlock();
    p.remember(s, parent, enc(name), p.mark());
    return s;
  };
  return { t, p, node };
}

test('a path is the names up to the root', () => {
  const { p, node } = setup();
  const a = node(0, 'a');
  const b = node(a, 'b');
  const f = node(b, 'file.txt');
  assert.is(p.pathOf(f, () => KERNEL), 'a/b/file.txt');
  assert.is(p.pathOf(a, () => KERNEL), 'a');
  assert.is(p.pathOf(0, () => KERNEL), '');
});

test('a reused slot (the kernel forgot the node) is not trusted, nor are its children', () => {
  const { t, p, node } = setup();
  const a = node(0, 'a');
  const f = node(a, 'f');
  t.lock();
  t.forget(a, 1);
  const again = reuse(t, a, 99, 0o040000, 1, 999); // the same slot, another inode
  t.unlock();
  assert.is(again, a);
  assert.is(p.pathOf(f, () => KERNEL), KERNEL);
  assert.is(p.pathOf(again, () => KERNEL), KERNEL);
});

test('a rename records the move; children follow', () => {
  const { p, node } = setup();
  const a = node(0, 'a');
  const s = node(0, 'secrets');
  const f = node(a, 'f');
  p.renamed([{ parent: s, name: enc('moved'), fromParent: 0, fromName: enc('a') }], () => { throw new Error('found by its old name, no lookup needed'); });
  assert.is(p.pathOf(f, () => KERNEL), 'secrets/moved/f');
});

test('a view (last part, first part, depth) comes from the same records as the path, and is refused when they are', () => {
  const { t, p, node } = setup();
  const a = node(0, 'a');
  const b = node(a, 'b');
  const f = node(b, 'file.txt');
  const v = { name: '?', top: '?', depth: -1 };
  const viewOf = (s: number) => (p.viewOf(s, v) ? { ...v } : null);
  assert.equal(viewOf(f), { name: 'file.txt', top: 'a', depth: 3 });
  assert.equal(viewOf(a), { name: 'a', top: 'a', depth: 1 });
  assert.equal(viewOf(0), { name: '', top: '', depth: 0 });
  // A rename moves the view with the path; children follow.
  p.renamed([{ parent: 0, name: enc('z'), fromParent: a, fromName: enc('b') }], () => -1);
  assert.equal(viewOf(f), { name: 'file.txt', top: 'z', depth: 2 });
  assert.is(p.pathOf(f, () => KERNEL), 'z/file.txt');
  // A reused ancestor: no view, as no path.
  t.lock();
  t.forget(b, 1);
  assert.is(reuse(t, b, 98, 0o040000, 1, 998), b);
  t.unlock();
  assert.is(viewOf(f), null);
  assert.is(p.pathOf(f, () => KERNEL), KERNEL);
  // Without memory (no policy) there is no view either.
  assert.is(new PathCache(t, null, 60_000).viewOf(f, v), false);
});

test('a view follows every change another worker records: new names, renames, invalidation, reused slots, age', async () => {
  const mem = allocatePathMemory(64);
  const t = new InodeTable(allocateInodeTable(64), 1);
  t.init(3, 1, 2);
  const ttl = 40;
  const p = new PathCache(t, mem, ttl); // the worker deciding
  const q = new PathCache(t, mem, ttl); // another worker, writing records
  let ino = 100;
  const node = (parent: number, name: string, type = 0o040000): number => {
    t.lock();
    const s = t.insert(10 + ino, type, 1, ino++);
    t.unlock();
    q.remember(s, parent, enc(name), q.mark());
    return s;
  };
  const a = node(0, 'a');
  const b = node(a, 'b');
  const f = node(b, 'f.txt', 0o100000);
  const g = node(b, 'g.txt', 0o100000);
  const v = { name: '?', top: '?', depth: -1 };
  const viewOf = (s: number) => (p.viewOf(s, v) ? { ...v } : null);
  assert.equal(viewOf(f), { name: 'f.txt', top: 'a', depth: 3 });
  assert.equal(viewOf(g), { name: 'g.txt', top: 'a', depth: 3 });
  // A lookup finds a directory under another name (moved on the lower file system).
  q.remember(a, 0, enc('a2'), q.mark());
  assert.equal(viewOf(f), { name: 'f.txt', top: 'a2', depth: 3 });
  // A rename through the mount, recorded by the other worker.
  q.renamed([{ parent: 0, name: enc('top'), fromParent: a, fromName: enc('b') }], () => -1);
  assert.equal(viewOf(g), { name: 'g.txt', top: 'top', depth: 2 });
  // A move that could not be recorded: nothing is trusted.
  q.renamed([{ parent: 0, name: enc('x'), fromParent: 0, fromName: enc('no-such-name') }], () => -1);
  assert.is(viewOf(g), null);
  assert.is(viewOf(node(b, 'new.txt', 0o100000)), null, 'a new record under an old directory');
  // Records again, then an ancestor of the kept directory is forgotten and its slot reused.
  const c = node(0, 'c');
  const d = node(c, 'd');
  const h = node(d, 'h.txt', 0o100000);
  assert.equal(viewOf(h), { name: 'h.txt', top: 'c', depth: 3 });
  t.lock();
  t.forget(c, 1);
  assert.is(reuse(t, c, 97, 0o040000, 1, 997), c);
  t.unlock();
  assert.is(viewOf(h), null);
  // An ancestor's record older than the entry timeout is not trusted, even when the file's is fresh.
  const e = node(0, 'e');
  const k = node(e, 'k');
  const l = node(k, 'l.txt', 0o100000);
  assert.equal(viewOf(l), { name: 'l.txt', top: 'e', depth: 3 });
  await new Promise((r) => setTimeout(r, ttl + 20));
  q.remember(l, k, enc('l.txt'), q.mark()); // the file's own record renewed, not its directories'
  q.remember(k, e, enc('k'), q.mark());
  assert.is(viewOf(l), null, 'e is too old');
  q.remember(e, 0, enc('e'), q.mark());
  assert.equal(viewOf(l), { name: 'l.txt', top: 'e', depth: 3 });
});

test('views read while another thread rewrites the records are whole: old or new, never a mix', async () => {
  const inodes = allocateInodeTable(64);
  const paths = allocatePathMemory(64);
  const t = new InodeTable(inodes, 1);
  t.init(3, 1, 2);
  const p = new PathCache(t, paths, 60_000);
  t.lock();
  const dir = t.insert(10, 0o040000, 1, 100);
  const file = t.insert(11, 0o100000, 1, 101);
  t.unlock();
  p.remember(dir, 0, enc('a'), p.mark());
  p.remember(file, dir, enc('f.txt'), p.mark());
  const stop = new SharedArrayBuffer(8); // [0] stop, [1] the writer's rounds
  const writer = new Worker(new URL('./fixtures/path-writer.mjs', import.meta.url), { workerData: { inodes, paths, dir, file, stop } });
  const tops = new Set(['a', 'bravo-much-longer', 'c']);
  const names = new Set(['f.txt', 'g-a-longer-name.log', 'h']);
  const v = { name: '', top: '', depth: 0 };
  let seen = 0;
  const started = Date.now();
  const shared = new Int32Array(stop);
  // Until the writer has done enough rounds to have raced many reads (or 20 s).
  while ((seen < 200_000 || Atomics.load(shared, 1) < 20_000) && Date.now() - started < 20_000) {
    for (let i = 0; i < 1000; i++) {
      if (!p.viewOf(file, v)) continue;
      seen++;
      if (!tops.has(v.top) || !names.has(v.name) || v.depth !== 2) {
        Atomics.store(shared, 0, 1);
        assert.unreachable(`a torn view: ${JSON.stringify(v)}`);
      }
    }
    await new Promise((r) => setImmediate(r));
  }
  Atomics.store(shared, 0, 1);
  const rounds = await new Promise<number>((r) => writer.once('message', r));
  await writer.terminate();
  assert.ok(rounds >= 20_000, `the writer did ${rounds} rounds`);
  assert.ok(seen > 1000, `${seen} views read`);
});

test('a record kept until the reply is sent: written by flush, unless the node or its parent was forgotten or a rename came between', () => {
  const { t, p, node } = setup();
  const a = node(0, 'a');
  const later = (name: string, parent = a) => {
    t.lock();
    const s = t.insert(50 + name.length, 0o100000, 1, 5000 + name.charCodeAt(0));
    t.unlock();
    const buf = enc(name);
    p.rememberAfterReply(s, parent, buf, p.mark());
    buf.fill(0); // the request buffer is reused: the name was copied
    return s;
  };
  const f = later('f.txt');
  assert.is(p.pathOf(f, () => KERNEL), KERNEL, 'not written before the flush');
  p.flush();
  assert.is(p.pathOf(f, () => KERNEL), 'a/f.txt');
  p.flush(); // nothing kept: no effect
  // Forgotten and its slot reused before the flush: the new node gets no record.
  const g = later('g');
  t.lock();
  t.forget(g, 1);
  assert.is(reuse(t, g, 77, 0o100000, 1, 7777), g);
  t.unlock();
  p.flush();
  assert.is(p.pathOf(g, () => KERNEL), KERNEL);
  // A rename between the lookup and the flush: the name may be stale, not written.
  const h = later('h');
  p.renamed([{ parent: 0, name: enc('b'), fromParent: 0, fromName: enc('a') }], () => a);
  p.flush();
  assert.is(p.pathOf(h, () => KERNEL), KERNEL);
  assert.is(p.pathOf(f, () => KERNEL), 'b/f.txt', 'earlier records follow the rename');
});

test('a directory listing\'s records (one per entry) are all kept until the reply, beyond the room too', () => {
  const { t, p, node } = setup(60_000, 256);
  const d = node(0, 'd');
  const slots: number[] = [];
  for (let i = 0; i < 130; i++) {
    t.lock();
    slots.push(t.insert(1000 + i, 0o100000, 1, 10_000 + i));
    t.unlock();
    p.rememberAfterReply(slots[i], d, enc(`e${i}`), p.mark());
  }
  assert.is(p.pathOf(slots[0], () => KERNEL), 'd/e0', 'the room (128) was full: those were written early');
  assert.is(p.pathOf(slots[129], () => KERNEL), KERNEL);
  p.flush();
  assert.equal(slots.map((s) => p.pathOf(s, () => KERNEL)), slots.map((_, i) => `d/e${i}`));
});

test('a rename whose old name is not remembered asks for the node at the new name', () => {
  const { p, node } = setup();
  const a = node(0, 'x'.repeat(100)); // too long to remember
  const f = node(a, 'f');
  let asked = 0;
  p.renamed([{ parent: 0, name: enc('short'), fromParent: 0, fromName: enc('x'.repeat(100)) }], () => (asked++, a));
  assert.is(asked, 1);
  assert.is(p.pathOf(f, () => KERNEL), 'short/f');
});

test('a rename does not trust the old name of a reused slot', () => {
  const { t, p, node } = setup();
  const a = node(0, 'a');
  t.lock();
  t.forget(a, 1);
  const again = reuse(t, a, 99, 0o100000, 1, 999); // the same slot, another inode, never looked up
  t.unlock();
  let asked = 0;
  p.renamed([{ parent: 0, name: enc('b'), fromParent: 0, fromName: enc('a') }], () => (asked++, again));
  assert.is(asked, 1);
});

test('RENAME_EXCHANGE swaps both nodes', () => {
  const { p, node } = setup();
  const a = node(0, 'a');
  const b = node(0, 'b');
  const fa = node(a, 'f');
  const fb = node(b, 'f');
  p.renamed([
    { parent: 0, name: enc('b'), fromParent: 0, fromName: enc('a') },
    { parent: 0, name: enc('a'), fromParent: 0, fromName: enc('b') },
  ], () => -1);
  assert.is(p.pathOf(fa, () => KERNEL), 'b/f');
  assert.is(p.pathOf(fb, () => KERNEL), 'a/f');
});

test('a name found before a rename is not written after it', () => {
  const { p, node } = setup();
  const a = node(0, 'a');
  const f = node(a, 'f');
  const mark = p.mark();
  p.renamed([{ parent: 0, name: enc('b'), fromParent: 0, fromName: enc('a') }], () => a);
  p.remember(a, 0, enc('a'), mark); // a LOOKUP of the old name that raced the rename
  assert.is(p.pathOf(f, () => KERNEL), 'b/f');
});

test('a move that cannot be recorded invalidates every record', () => {
  const { p, node } = setup();
  const a = node(0, 'a');
  const f = node(a, 'f');
  p.renamed([{ parent: 0, name: enc('b'), fromParent: 0, fromName: enc('nothing-by-this-name') }], () => -1);
  assert.is(p.pathOf(f, () => KERNEL), KERNEL);
  assert.is(p.pathOf(a, () => KERNEL), KERNEL);
});

test('old records are used only when the kernel confirms them, which renews them', async () => {
  const { p, node } = setup(20);
  const a = node(0, 'a');
  const f = node(a, 'f');
  await new Promise((r) => setTimeout(r, 40));
  let asked = 0;
  assert.is(p.pathOf(f, () => (asked++, 'a/f')), 'a/f');
  assert.is(asked, 1);
  assert.is(p.pathOf(f, () => (asked++, 'a/f')), 'a/f');
  assert.is(asked, 1, 'renewed: the kernel is not asked again');
  await new Promise((r) => setTimeout(r, 40));
  // Renamed behind the daemon's back: the kernel's answer wins and nothing is renewed.
  assert.is(p.pathOf(f, () => (asked++, 'z/f')), 'z/f');
  assert.is(p.pathOf(f, () => (asked++, 'z/f')), 'z/f');
  assert.is(asked, 3);
});

test('a view refused for old records: the kernel\'s path confirms and renews them, and the next view is given', async () => {
  const { p, node } = setup(20);
  const a = node(0, 'a');
  const f = node(a, 'f');
  await new Promise((r) => setTimeout(r, 40));
  const v = { name: '', top: '', depth: 0 };
  assert.is(p.viewOf(f, v), false);
  let asked = 0;
  assert.is(p.pathFromKernel(f, () => (asked++, 'a/f')), 'a/f');
  assert.is(asked, 1);
  assert.is(p.viewOf(f, v), true);
  assert.equal({ ...v }, { name: 'f', top: 'a', depth: 2 });
  // A path the records do not agree with renews nothing.
  await new Promise((r) => setTimeout(r, 40));
  assert.is(p.pathFromKernel(f, () => 'z/f'), 'z/f');
  assert.is(p.viewOf(f, v), false);
});

test('many nodes: names decoded once per worker stay right across chunks', () => {
  const { p, node } = setup(60_000, 16384);
  const d = node(0, 'dir');
  const files = Array.from({ length: 9000 }, (_, i) => node(d, `f${i}`));
  for (const i of [0, 4094, 4095, 4096, 8191, 8192, 8999]) {
    assert.is(p.pathOf(files[i], () => KERNEL), `dir/f${i}`);
    assert.is(p.pathOf(files[i], () => KERNEL), `dir/f${i}`, 'from the decoded copy');
  }
  p.remember(files[8999], d, enc('renamed'), p.mark()); // a new version of the record
  assert.is(p.pathOf(files[8999], () => KERNEL), 'dir/renamed');
});

test('names too long to remember fall back to the kernel', () => {
  const { p, node } = setup();
  const f = node(0, 'x'.repeat(200));
  assert.is(p.pathOf(f, () => KERNEL), KERNEL);
});

test('without memory (no policy) the kernel is always asked', () => {
  const t = new InodeTable(allocateInodeTable(16), 1);
  t.init(3, 1, 2);
  const p = new PathCache(t, null, 1000);
  p.remember(1, 0, enc('a'), p.mark());
  assert.is(p.pathOf(1, () => KERNEL), KERNEL);
});

test.run();
