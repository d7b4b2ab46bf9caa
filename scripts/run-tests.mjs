#!/usr/bin/env node
// Runs every test file under test/ in its own uvu process (a crash in one
// file cannot take the others with it) and ends with the line CI reads:
// "N passed, N failed".
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const only = process.argv.slice(2);
const files = fs.readdirSync(path.join(root, 'test'))
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
const uvu = path.join(root, 'node_modules/uvu/bin.js');

// FUSE over io_uring is a global kernel switch the daemon never touches; the
// suite turns it on for its own mounts and puts it back as it found it.
const URING = '/sys/module/fuse/parameters/enable_uring';
let uringBefore = null;
try {
  uringBefore = fs.readFileSync(URING, 'utf8').trim();
  if (uringBefore !== 'Y') fs.writeFileSync(URING, 'Y');
} catch (e) {
  process.stdout.write(`cannot enable FUSE over io_uring (${e.message}): the uring configurations will fail\n`);
}
const restore = () => {
  if (uringBefore && uringBefore !== 'Y') fs.writeFileSync(URING, uringBefore);
};
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { restore(); process.exit(1); });
let passed = 0;
let failed = 0;
for (const f of files) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', uvu, 'test', `^${f.replace(/\./g, '\\.')}$`], {
    cwd: root, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' }, maxBuffer: 64 << 20,
  });
  const out = (r.stdout ?? '') + (r.stderr ?? '');
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const skipped = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (Number.isNaN(total) || Number.isNaN(ok)) {
    failed += 1;
    process.stdout.write(out);
    process.stdout.write(`${f}: no summary (exit ${r.status ?? r.signal}): counted as 1 failure\n`);
    continue;
  }
  const bad = total - ok - skipped + (r.status !== 0 && total === ok ? 1 : 0);
  passed += ok;
  failed += bad + skipped; // a skipped test is not a passed one
  if (bad || skipped || process.env.VERBOSE) process.stdout.write(out);
  process.stdout.write(`${f}: ${ok} passed, ${bad + skipped} failed (${((Date.now() - t0) / 1000).toFixed(1)}s)\n`);
}
restore();
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exit(failed ? 1 : 0);
