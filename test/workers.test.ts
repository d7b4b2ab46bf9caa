// The worker pool: a worker killed mid-run is replaced and the mount keeps serving.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { mount, Mount, cli, sh } from './helpers.js';

const t = suite('workers');
let M: Mount;
t.before(() => {
  M = mount(['--io', 'mediated', '--workers', '2']);
});
t.after(() => M.umount());

t('a worker killed while requests are flowing is replaced; ls, cat and stat keep working', async () => {
  for (let i = 0; i < 50; i++) fs.writeFileSync(M.m(`f${i}`), `data ${i}\n`.repeat(1000));
  // Background load while the worker dies.
  const load = spawn('sh', ['-c', `for i in $(seq 1 200); do cat ${M.mnt}/f* > /dev/null 2>&1; ls -l ${M.mnt} > /dev/null 2>&1; done`]);
  const done = new Promise((r) => load.on('exit', r));
  await new Promise((r) => setTimeout(r, 200));
  const before = await M.status();
  const k = cli(['kill-worker', M.mnt, '--index', '0']);
  assert.is(k.status, 0, k.stderr);
  await done; // the load finishes: nothing hangs
  let s = await M.status();
  for (let i = 0; i < 50 && s.workers.alive < 2; i++) {
    await new Promise((r) => setTimeout(r, 100));
    s = await M.status();
  }
  assert.is(s.workers.alive, 2);
  assert.is(s.workers.restarts, before.workers.restarts + 1);
  assert.is.not(s.workers.list[0].threadId, before.workers.list[0].threadId);
  assert.match(sh(`ls ${M.mnt}`), 'f49');
  assert.is(sh(`cat ${M.m('f7')}`), 'data 7\n'.repeat(1000));
  assert.is(fs.statSync(M.m('f3')).size, 7000);
  // Both workers serve: kill the other one as well and carry on.
  assert.is(cli(['kill-worker', M.mnt, '--index', '1']).status, 0);
  await new Promise((r) => setTimeout(r, 300));
  assert.is(sh(`cat ${M.m('f8')}`).length, 7000);
  fs.writeFileSync(M.m('after'), 'ok');
  assert.is(fs.readFileSync(M.l('after'), 'utf8'), 'ok');
});

t.run();
