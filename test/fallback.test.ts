// When the kernel refuses a backing file, the open is served mediated: the
// reason is counted, the application never sees EIO. passfs over passfs is a
// real refusal: the lower mount's files are one stack level too deep (ELOOP).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { mount, Mount } from './helpers.js';
import { logPath } from '../src/server/control.js';

const t = suite('passthrough fallback');
let inner: Mount;
let outer: Mount;
t.before(() => {
  inner = mount(['--io', 'passthrough']);
  outer = mount(['--io', 'passthrough'], inner.mnt);
});
t.after(() => {
  outer.umount();
  inner.umount();
});

t('a refused backing file falls back to mediated I/O without errors', async () => {
  fs.writeFileSync(outer.m('f'), 'through two mounts');
  fs.appendFileSync(outer.m('f'), '!');
  assert.is(fs.readFileSync(outer.m('f'), 'utf8'), 'through two mounts!');
  assert.is(fs.readFileSync(path.join(inner.lower, 'f'), 'utf8'), 'through two mounts!');
  const s = await outer.status();
  assert.ok(s.opens.fallback >= 3);
  assert.is(s.opens.passthrough, 0);
  assert.is(s.opens.mediated, s.opens.fallback);
  assert.ok(s.fallbackReasons.ELOOP >= 3);
  assert.ok(s.requests.WRITE > 0 && s.requests.READ > 0);
  // the inner mount, on an ordinary fs, does pass through
  assert.ok((await inner.status()).opens.passthrough >= 3);
});

t('a burst of refused backing files leaves a bounded log', async () => {
  fs.writeFileSync(outer.m('burst'), 'b');
  for (let i = 0; i < 2000; i++) fs.closeSync(fs.openSync(outer.m('burst'), 'r'));
  const log = fs.readFileSync(logPath(fs.realpathSync(outer.mnt)), 'utf8').split('\n');
  const refused = log.filter((l) => l.includes('passthrough refused'));
  const workers = (await outer.status()).workers.count;
  assert.ok(refused.length >= 1 && refused.length <= 10 * workers, `${refused.length} lines about refused backing files (${workers} workers, 10 each)`);
  assert.ok(log.length < 40, `${log.length} log lines`);
});

t.run();
