// The kernel's privilege rules as the daemon applies them for its callers
// (src/fs/privileges.ts), on their own; the mount tests (ops, security)
// check the same rules end to end against the lower file system natively.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { accessWanted, groupOfNew, modeAfterChange, modeAllows, statusHasGroup } from '../src/fs/privileges.js';
import { O } from '../src/native/linux.js';

const t = suite('privilege rules');

t('a change by a caller without CAP_FSETID: suid always goes, sgid when group-executable or not the caller\'s group', () => {
  assert.is(modeAfterChange(0o4755, true), 0o755);
  assert.is(modeAfterChange(0o6755, true), 0o755);
  assert.is(modeAfterChange(0o2755, true), 0o755); // group-executable: sgid goes even for a member
  assert.is(modeAfterChange(0o2745, true), 0o2745); // not group-executable (mandatory-locking style): kept for a member
  assert.is(modeAfterChange(0o2745, false), 0o745); // ...and dropped for anyone else
  assert.is(modeAfterChange(0o1777, false), 0o1777); // sticky is no privilege
  assert.is(modeAfterChange(0o100644, false), 0o644); // the file type is not part of the answer
});

t('the access an open asks for', () => {
  assert.is(accessWanted(O.RDONLY), 4);
  assert.is(accessWanted(O.WRONLY), 2);
  assert.is(accessWanted(O.RDWR), 6);
  assert.is(accessWanted(O.RDONLY | O.TRUNC), 6);
  assert.is(accessWanted(O.WRONLY | O.APPEND | O.CREAT), 2);
});

t('mode bits: the owner class decides for the owner, the group class for members, others for the rest', () => {
  assert.ok(modeAllows(0o600, 10, 10, false, 6));
  assert.not.ok(modeAllows(0o066, 10, 10, true, 4)); // the owner gets the owner bits, not the group's
  assert.ok(modeAllows(0o640, 10, 11, true, 4));
  assert.not.ok(modeAllows(0o640, 10, 11, true, 2));
  assert.not.ok(modeAllows(0o604, 10, 11, true, 4)); // a member gets the group bits, not the others'
  assert.ok(modeAllows(0o604, 10, 11, false, 4));
});

t('a new node takes the group of a setgid parent', () => {
  assert.is(groupOfNew(100, 0o2775, 500), 500);
  assert.is(groupOfNew(100, 0o775, 500), 100);
});

t('supplementary groups from /proc/PID/status', () => {
  const status = 'Name:\tsh\nUid:\t4321\t4321\t4321\t4321\nGid:\t4321\t4321\t4321\t4321\nGroups:\t27 100 4321 \nNgid:\t0\n';
  assert.ok(statusHasGroup(status, 100));
  assert.ok(statusHasGroup(status, 27));
  assert.not.ok(statusHasGroup(status, 10));
  assert.not.ok(statusHasGroup(status, 2)); // not a prefix match of 27
  assert.not.ok(statusHasGroup('Name:\tsh\nGroups:\t\n', 0));
});

t.run();
