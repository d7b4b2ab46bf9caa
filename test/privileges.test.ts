// The kernel's privilege rules as the daemon applies them for its callers
// (src/fs/privileges.ts), on their own; the mount tests (ops, security)
// check the same rules end to end against the lower file system natively.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { accessWanted, dropTrusted, modeAfterChange, statusGroups, statusHasGroup, statusHasSysAdmin } from '../src/fs/privileges.js';
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

t('supplementary groups from /proc/PID/status', () => {
  const status = 'Name:\tsh\nUid:\t4321\t4321\t4321\t4321\nGid:\t4321\t4321\t4321\t4321\nGroups:\t27 100 4321 \nNgid:\t0\n';
  assert.ok(statusHasGroup(status, 100));
  assert.ok(statusHasGroup(status, 27));
  assert.not.ok(statusHasGroup(status, 10));
  assert.not.ok(statusHasGroup(status, 2)); // not a prefix match of 27
  assert.not.ok(statusHasGroup('Name:\tsh\nGroups:\t\n', 0));
});

t('trusted.* names taken out of an xattr list; CAP_SYS_ADMIN and the groups read from /proc/PID/status', () => {
  const list = new TextEncoder().encode('user.a\0trusted.secret\0security.selinux\0trusted.x\0');
  const buf = new Uint8Array(list.length + 4);
  buf.set(list, 2);
  assert.is(dropTrusted(buf, 2, list.length, true), list.length - 1, 'a dry run only says there are some');
  const n = dropTrusted(buf, 2, list.length);
  assert.is(new TextDecoder().decode(buf.subarray(2, 2 + n)), 'user.a\0security.selinux\0');
  const none = new TextEncoder().encode('user.a\0');
  assert.is(dropTrusted(none, 0, none.length), none.length);
  assert.ok(statusHasSysAdmin('Name:\tsh\nCapEff:\t000001ffffffffff\n'));
  assert.not.ok(statusHasSysAdmin('Name:\tsh\nCapEff:\t0000000000000000\n'));
  assert.not.ok(statusHasSysAdmin('CapEff:\t0000000000000001\n'));
  assert.equal(statusGroups('Groups:\t27 100 4321 \nNgid:\t0\n'), [27, 100, 4321]);
  assert.equal(statusGroups('Groups:\t\n'), []);
});

t.run();
