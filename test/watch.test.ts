// Long caching that stays true (src/fs/watch.ts): with the watch on (the
// default), entries and attributes are cached for a day, and a change made
// directly on the lower directory is seen through the mount within 100 ms;
// the daemon's own changes cost no notification; with the watch off, the
// short timeout applies. Both transports.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { mount, Mount } from './helpers.js';

/** Poll `f` until it is true, for at most `ms`; returns whether it became true. */
function within(ms: number, f: () => boolean): boolean {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (f()) return true;
    } catch { /* not yet */ }
    if (Date.now() >= end) return false;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  }
}
const exists = (p: string) => fs.existsSync(p);

for (const transport of ['devfuse', 'uring'] as const) {
  const t = suite(`watch (${transport})`);
  let M: Mount;
  t.before(() => {
    M = mount(['--transport', transport]);
  });
  t.after(() => M.umount());

  t('long timeouts with the watch on, and status says so', async () => {
    const s = await M.status();
    assert.is(s.timeoutMs, 86_400_000);
    assert.is(s.watch.on, true);
  });

  t('a create, unlink and rename beside the mount are seen within 100 ms', () => {
    // Looked up first, so the kernel caches the answers (a negative entry for the missing name).
    assert.not.ok(exists(M.m('new')));
    fs.writeFileSync(M.l('new'), 'n');
    assert.ok(within(100, () => exists(M.m('new'))), 'the create is seen');
    fs.unlinkSync(M.l('new'));
    assert.ok(within(100, () => !exists(M.m('new'))), 'the unlink is seen');
    fs.writeFileSync(M.l('a'), 'a');
    assert.ok(within(100, () => exists(M.m('a'))));
    assert.not.ok(exists(M.m('b')));
    fs.renameSync(M.l('a'), M.l('b'));
    assert.ok(within(100, () => !exists(M.m('a')) && exists(M.m('b'))), 'the rename is seen');
    assert.is(fs.readFileSync(M.m('b'), 'utf8'), 'a');
    fs.mkdirSync(M.l('d'));
    assert.ok(within(100, () => fs.statSync(M.m('d')).isDirectory()));
    fs.writeFileSync(M.l('d', 'inner'), 'i');
    assert.ok(within(100, () => exists(M.m('d', 'inner'))), 'a create in a subdirectory is seen');
  });

  t('a chmod (of a file, of a directory), a write that changes size and mtime, a truncation, a retargeted symlink are seen within 100 ms', () => {
    fs.writeFileSync(M.l('f'), 'x');
    fs.chmodSync(M.l('f'), 0o644);
    assert.ok(within(100, () => (fs.statSync(M.m('f')).mode & 0o777) === 0o644));
    fs.chmodSync(M.l('f'), 0o600);
    assert.ok(within(100, () => (fs.statSync(M.m('f')).mode & 0o777) === 0o600), 'the chmod is seen');
    const before = fs.statSync(M.m('f'));
    fs.utimesSync(M.l('f'), new Date(1_000_000), new Date(1_000_000));
    fs.appendFileSync(M.l('f'), 'more bytes');
    assert.ok(within(100, () => {
      const now = fs.statSync(M.m('f'));
      return now.size === 11 && now.mtimeMs !== before.mtimeMs;
    }), 'the write is seen (size and mtime)');
    assert.is(fs.readFileSync(M.m('f'), 'utf8'), 'xmore bytes');
    fs.truncateSync(M.l('f'), 3);
    assert.ok(within(100, () => fs.statSync(M.m('f')).size === 3), 'a truncation is seen');
    fs.mkdirSync(M.l('dir'), { mode: 0o755 });
    assert.ok(within(100, () => (fs.statSync(M.m('dir')).mode & 0o777) === 0o755));
    fs.chmodSync(M.l('dir'), 0o700);
    assert.ok(within(100, () => (fs.statSync(M.m('dir')).mode & 0o777) === 0o700), 'a directory\'s chmod is seen');
    fs.symlinkSync('one', M.l('ln'));
    assert.ok(within(100, () => fs.readlinkSync(M.m('ln')) === 'one'));
    fs.unlinkSync(M.l('ln'));
    fs.symlinkSync('two', M.l('ln'));
    assert.ok(within(100, () => fs.readlinkSync(M.m('ln')) === 'two'), 'the new target is seen');
  });

  t('a missing name and a symlink\'s target are asked once, then cached', async () => {
    fs.symlinkSync('target', M.l('cached-ln'));
    const r0 = (await M.status()).requests;
    for (let i = 0; i < 3; i++) assert.not.ok(exists(M.m('never-there')));
    for (let i = 0; i < 3; i++) assert.is(fs.readlinkSync(M.m('cached-ln')), 'target');
    const r1 = (await M.status()).requests;
    // One LOOKUP for the missing name (then a negative entry), one for the link.
    assert.is(r1.LOOKUP - r0.LOOKUP, 2);
    assert.is((r1.READLINK ?? 0) - (r0.READLINK ?? 0), 1, 'FUSE_CACHE_SYMLINKS');
  });

  t('the daemon\'s own changes send no notification', async () => {
    // The earlier tests' changes beside the mount are told first (the watch is read every 20 ms).
    await new Promise((r) => setTimeout(r, 100));
    const s0 = (await M.status()).watch;
    fs.writeFileSync(M.m('own'), 'o');
    fs.chmodSync(M.m('own'), 0o640);
    fs.appendFileSync(M.m('own'), 'more');
    fs.renameSync(M.m('own'), M.m('own2'));
    fs.mkdirSync(M.m('owndir'));
    fs.unlinkSync(M.m('own2'));
    await new Promise((r) => setTimeout(r, 100));
    const s1 = (await M.status()).watch;
    assert.ok(s1.own > s0.own, 'the watch saw them');
    assert.is(s1.invalEntry, s0.invalEntry);
    assert.is(s1.invalInode, s0.invalInode);
  });

  t('a directory fanotify cannot mark (max_user_marks reached) is counted', async () => {
    const knob = '/proc/sys/fs/fanotify/max_user_marks';
    const limit = fs.readFileSync(knob, 'utf8');
    const f0 = (await M.status()).watch.markFailures;
    assert.is(typeof f0, 'number');
    fs.mkdirSync(M.l('unmarked'));
    try {
      fs.writeFileSync(knob, '1');
      assert.ok(fs.statSync(M.m('unmarked')).isDirectory());
    } finally {
      fs.writeFileSync(knob, limit);
    }
    assert.is((await M.status()).watch.markFailures, f0 + 1);
  });

  t.run();
}

const off = suite('watch off');
let W: Mount;
off.before(() => {
  W = mount(['--watch', 'off']);
});
off.after(() => W.umount());

off('the short timeout applies: a change beside the mount shows once it expires', async () => {
  const s = await W.status();
  assert.is(s.timeoutMs, 1000);
  assert.equal(s.watch, { on: false, why: 'turned off (--watch off)' });
  fs.writeFileSync(W.l('f'), 'x');
  fs.chmodSync(W.l('f'), 0o644);
  assert.is(fs.statSync(W.m('f')).mode & 0o777, 0o644);
  fs.chmodSync(W.l('f'), 0o600);
  assert.is(fs.statSync(W.m('f')).mode & 0o777, 0o644, 'cached for the timeout');
  assert.ok(within(1500, () => (fs.statSync(W.m('f')).mode & 0o777) === 0o600), 'seen after it');
});

off.run();
