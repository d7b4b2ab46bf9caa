// The rate-limited log: a user who can cause a log line through the mount
// cannot flood the log with it, and what was held back is said once.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rateLimited } from '../src/server/logging.js';
import { flagNames, mountFlags, notCrossable } from '../src/fs/mountflags.js';
import { MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_NOSYMFOLLOW, ST_NOSYMFOLLOW } from '../src/native/linux.js';

const t = suite('logging and mount flags');
const limits = { perKind: 3, total: 5, windowMs: 1000, maxChars: 50 };

function logger() {
  const lines: string[] = [];
  let now = 0;
  const log = rateLimited((l) => lines.push(l), limits, () => now);
  return { lines, log, advance: (ms: number) => (now += ms) };
}

t('lines of one kind (numbers folded) pass a few times per window, then are counted', () => {
  const { lines, log, advance } = logger();
  for (let i = 0; i < 100; i++) log(`passthrough refused for node ${i} (ELOOP)`);
  assert.is(lines.length, 3);
  advance(1000);
  log('passthrough refused for node 7 (ELOOP)');
  assert.is(lines[3], '97 more line(s) like this were not logged in the last 1 s: passthrough refused for node # (ELOOP)');
  assert.is(lines[4], 'passthrough refused for node 7 (ELOOP)');
});

t('a message is one line: text from the mount cannot start a line of its own', () => {
  const { lines, log } = logger();
  log('mount at a\npassfs: forged\x1b[0m');
  assert.is(lines.length, 1);
  assert.is(lines[0], 'mount at a\\npassfs: forged\\x1b[0m');
});

t('all kinds share a budget; lines are cut to a bounded length', () => {
  const { lines, log } = logger();
  for (let i = 0; i < 10; i++) log(`kind ${'abcdefghij'[i]}`);
  assert.is(lines.length, 5);
  const { lines: l2, log: log2 } = logger();
  log2('x'.repeat(200));
  assert.is(l2[0], `${'x'.repeat(50)}... (150 more characters)`);
});

t('a stack trace counts by its first line', () => {
  const { lines, log } = logger();
  for (let i = 0; i < 10; i++) log(`internal error in 14: Error: boom\n    at frame${i} (x.js:${i})`);
  assert.is(lines.length, 3);
});

t('the mount flags: nosuid,nodev by default, never less than the lower, --suid/--dev refused where the lower forbids', () => {
  const none = { suid: false, dev: false, noexec: false, ro: false };
  const f = (r: object, lower: number) => mountFlags({ ...none, ...r }, lower, '/l');
  assert.equal(f({}, 0), { flags: MS_NOSUID | MS_NODEV });
  assert.equal(f({ suid: true, dev: true }, 0), { flags: 0 });
  assert.equal(f({ suid: true, dev: true }, MS_NOEXEC | MS_RDONLY), { flags: MS_NOEXEC | MS_RDONLY });
  assert.equal(f({ noexec: true, ro: true }, 0), { flags: MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY });
  assert.match((f({ suid: true }, MS_NOSUID) as { error: string }).error, /--suid: .* is nosuid/);
  assert.match((f({ dev: true }, MS_NODEV) as { error: string }).error, /--dev: .* is nodev/);
  assert.is(flagNames(MS_RDONLY | MS_NOEXEC), 'ro,noexec');
  // nosymfollow: statfs and mount(2) spell it with different bits.
  assert.equal(f({}, ST_NOSYMFOLLOW), { flags: MS_NOSUID | MS_NODEV | MS_NOSYMFOLLOW });
  assert.is(flagNames(MS_NOSYMFOLLOW), 'nosymfollow');
});

t('a mount inside LOWER is crossed unless it forbids what the passfs mount allows (ro aside)', () => {
  const passfs = MS_NOSUID | MS_NODEV;
  assert.is(notCrossable(0, passfs), 0);
  assert.is(notCrossable(MS_NOSUID | MS_NODEV | MS_RDONLY, passfs), 0);
  assert.is(notCrossable(MS_NOEXEC | MS_NOSUID, passfs), MS_NOEXEC);
  assert.is(notCrossable(MS_NOEXEC, passfs | MS_NOEXEC), 0);
  assert.is(notCrossable(MS_NOSUID, 0), MS_NOSUID);
  assert.is(notCrossable(ST_NOSYMFOLLOW, passfs), MS_NOSYMFOLLOW);
  assert.is(notCrossable(ST_NOSYMFOLLOW, passfs | MS_NOSYMFOLLOW), 0);
});

t.run();
