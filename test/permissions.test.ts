// Permissions exactly as natively (issue 16): each case is one shell script
// that root sets up and the unprivileged test user acts in, run once in a
// directory of the lower file system itself and once through the mount;
// what it prints (errors, modes, owners, groups, ACLs, xattr names) must be
// the same. Passthrough and mediated, over both transports. The cases need
// setfacl (acl), xfs_io (xfsprogs) and setpriv (util-linux): scripts/setup.sh.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { CONFIGS, mount, Mount, scratch, cli, USER } from './helpers.js';

/** A group the test user is given as a supplementary group in some cases, and one it never has. */
const SUPP = 5555;
const OTHER = 5556;
const AS_USER = `setpriv --reuid=${USER.uid} --regid=${USER.gid} --clear-groups`;
const AS_MEMBER = `setpriv --reuid=${USER.uid} --regid=${USER.gid} --groups=${SUPP}`;
const PY = '/usr/bin/python3';

/** Run `script` in a fresh directory `dir` (world-writable) as root; U and M run a command as the user (M: with group SUPP). */
function run(dir: string, script: string): string {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir);
  fs.chmodSync(dir, 0o777);
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', `exec 2>&1; U="${AS_USER}"; M="${AS_MEMBER}"; cd ${JSON.stringify(dir)}\n${script}`], {
    encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
  });
  // Error messages name the path: keep only the part after it.
  return r.stdout.split(dir).join('.').trim();
}

/** Modes, owners and ACLs of `files`, one line each. */
const show = (...files: string[]) => files.map((f) => `stat -c '%n %a %u:%g' ${f}; getfacl -cp ${f} 2>/dev/null | tr '\\n' ' '; echo`).join('\n');

const CASES: [string, string][] = [
  ['an ACL entry denies what the mode bits allow', `
    echo data > f; chmod 644 f; setfacl -m u:${USER.uid}:--- f
    $U cat f; $U sh -c 'echo more >> f'; echo "rc=$?"`],
  ['an ACL entry allows what the mode bits deny', `
    echo data > f; chmod 600 f; setfacl -m u:${USER.uid}:rw- f
    $U cat f; $U sh -c 'echo more >> f'; cat f`],
  ['a group ACL entry and the mask', `
    echo data > f; chmod 600 f; setfacl -m g:${SUPP}:r-- f
    $U cat f; $M cat f; setfacl -m m::--- f; $M cat f`],
  ['a directory\'s default ACL, inherited by new files and directories (umask ignored)', `
    mkdir d; chmod 777 d; setfacl -d -m u::rwx,g::r-x,o::---,u:${USER.uid}:rw- d
    $U sh -c 'umask 022; touch d/f; mkdir d/sub; mkfifo d/p; python3 -c "import os; os.close(os.open(\\"d/o\\", os.O_CREAT|os.O_WRONLY, 0o640))"'
    ${show('d/f', 'd/sub', 'd/p', 'd/o')}`],
  ['the umask without a default ACL', `
    $U sh -c 'umask 027; touch f; mkdir d; mkfifo p'; $U sh -c 'umask 0; touch g'
    ${show('f', 'd', 'p', 'g')}`],
  ['the ACL mask after chmod', `
    touch f; setfacl -m u:${USER.uid}:rwx f; chmod 640 f
    ${show('f')}; chmod 770 f; ${show('f')}`],
  ['setgid directories with a default ACL, the creator not in the group', `
    mkdir sg; chown 0:${OTHER} sg; chmod 2777 sg; setfacl -d -m u::rwx,g::rwx,o::rwx sg
    $U sh -c 'umask 022; touch sg/f; mkdir sg/d; mkdir -m 2755 sg/d2; python3 -c "import os; os.close(os.open(\\"sg/g\\", os.O_CREAT|os.O_WRONLY, 0o2775))"'
    ${show('sg/f', 'sg/d', 'sg/d2', 'sg/g')}`],
  ['setgid directories without ACLs: member and non-member', `
    mkdir sg; chown 0:${SUPP} sg; chmod 2777 sg
    $U sh -c 'umask 022; touch sg/u; python3 -c "import os; os.close(os.open(\\"sg/ug\\", os.O_CREAT|os.O_WRONLY, 0o2755))"'
    $M sh -c 'umask 022; mkdir sg/md; python3 -c "import os; os.close(os.open(\\"sg/mg\\", os.O_CREAT|os.O_WRONLY, 0o2755))"'
    ${show('sg/u', 'sg/ug', 'sg/md', 'sg/mg')}`],
  ['a directory writable only through a supplementary group, or a group ACL entry', `
    mkdir g a; chown 0:${SUPP} g a; chmod 775 g; chmod 755 a; setfacl -m g:${SUPP}:rwx a
    $U touch g/no; $M touch g/yes; $M mkdir a/yes; $M ln -s t a/link
    ${show('g/yes', 'a/yes', 'a/link')}; ls g`],
  ['new nodes belong to their caller', `
    $U sh -c 'umask 022; touch f; mkdir d; ln -s x l; mkfifo p; ln f h'
    ${show('f', 'd', 'l', 'p')}; stat -c '%h' f`],
  ['fallocate (plain, punch-hole, zero-range) clears suid/sgid', `
    for m in plain punch zero; do echo AAAAAAAAAAAAAAAA > $m; chmod 6666 $m; done
    $U xfs_io -c 'falloc 0 8192' plain; $U xfs_io -c 'fpunch 0 4' punch; $U xfs_io -c 'fzero 0 4' zero
    stat -c '%n %a' plain punch zero`],
  ['writes clear suid/sgid: write, pwrite, writev, O_DIRECT, copy_file_range', `
    for w in append pwrite writev cfr; do echo AAAA > $w; chmod 6666 $w; done
    echo BBBB > src; $U sh -c 'echo x > direct; chmod 6755 direct'
    $U sh -c 'echo B >> append'; $U xfs_io -c 'pwrite 0 2' pwrite >/dev/null
    $U ${PY} -c 'import os; fd = os.open("writev", os.O_WRONLY); os.writev(fd, [b"a", b"b"])'
    $U xfs_io -d -c 'pwrite 0 4096' direct >/dev/null
    $U ${PY} -c 'import os; i = os.open("src", os.O_RDONLY); o = os.open("cfr", os.O_WRONLY); os.copy_file_range(i, o, 4, 0, 0)'
    stat -c '%n %a' append pwrite writev direct cfr`],
  ['truncate(2) and O_TRUNC clear suid/sgid', `
    echo AAAA > t1; chmod 6666 t1; echo AAAA > t2; chmod 6666 t2; echo AAAA > t3; chmod 2766 t3
    $U truncate -s 2 t1; $U sh -c ': > t2'; $U truncate -s 0 t3
    stat -c '%n %a %s' t1 t2 t3`],
  ['an ACL set by the owner of a setgid file outside its group drops sgid', `
    touch f g; chown ${USER.uid}:${OTHER} f; chown ${USER.uid}:${SUPP} g; chmod 2770 f g
    $U setfacl -m u:1234:r f; $M setfacl -m u:1234:r g
    ${show('f', 'g')}`],
  ['trusted.* names are not listed to an unprivileged caller', `
    touch f; setfattr -n trusted.secret -v 1 f; setfattr -n user.pub -v 1 f
    $U getfattr -d -m - f; $U getfattr -n trusted.secret f; getfattr -d -m - f`],
];

for (const cfg of CONFIGS.filter((c) => ['passthrough/devfuse', 'passthrough/uring', 'mediated-sync/devfuse', 'mediated-async/uring'].includes(c.name))) {
  const t = suite(`permissions as natively (${cfg.name})`);
  let M: Mount;
  let native: string;
  t.before(() => {
    M = mount(cfg.args);
    native = scratch('passfs-native-');
    fs.chmodSync(native, 0o755);
  });
  t.after(() => {
    M.umount();
    fs.rmSync(native, { recursive: true, force: true });
  });

  for (const [name, script] of CASES) {
    t(name, () => {
      const want = run(path.join(native, 'case'), script);
      const got = run(M.m('case'), script);
      assert.is(got, want);
    });
  }

  t('a chmod that would give suid/sgid to a file open for writing in passthrough by a user', () => {
    const script = `
      echo AAAA > f; chmod 777 f
      $U ${PY} -c '
import os, time
fd = os.open("f", os.O_WRONLY)
open("ready", "w").close()
while not os.path.exists("go"): time.sleep(0.01)
os.write(fd, b"B")' &
      while [ ! -e ready ]; do sleep 0.01; done
      chmod 4777 f; echo "chmod rc=$?"; chmod 2777 f; echo "chmod rc=$?"; touch go; wait; stat -c '%a' f`;
    const got = run(M.m('case'), script);
    if (cfg.io === 'passthrough') {
      // Refused: the user's writes would not clear the bits (README, "Security").
      assert.equal(got.split('\n'), [
        "chmod: changing permissions of 'f': Device or resource busy", 'chmod rc=1',
        "chmod: changing permissions of 'f': Device or resource busy", 'chmod rc=1', '777',
      ]);
    } else {
      assert.is(got, run(path.join(native, 'case'), script), 'mediated: the write clears them, as natively');
    }
    // Once the writer is gone the chmod is allowed.
    assert.is(run(M.m('case2'), 'echo A > f; chmod 777 f; $U sh -c "echo B >> f"; chmod 4777 f; echo rc=$?; stat -c %a f'), 'rc=0\n4777');
  });

  t.run();
}

const cp = suite('control plane');
let C: Mount;
cp.before(() => {
  C = mount(['--io', 'passthrough']);
});
cp.after(() => C.umount());

cp('the control socket and /run/passfs are root\'s only', () => {
  const r = cli(['status', C.mnt], USER);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /EACCES|permission denied|not allowed|answers root only/i);
  const dir = fs.statSync('/run/passfs');
  assert.is(dir.mode & 0o077, 0, 'no access for group or others');
  assert.is(dir.uid, 0);
});

cp.run();

const ex = suite('one user cannot shut root out');
let X: Mount;
ex.before(() => {
  X = mount(['--io', 'passthrough', '--max-inodes', '1024']);
  fs.mkdirSync(X.l('u'));
  fs.chownSync(X.l('u'), USER.uid, USER.gid);
  for (let i = 0; i < 8; i++) fs.writeFileSync(X.l(`root${i}`), `r${i}`);
});
ex.after(() => X.umount());

ex('a user filling the inode table leaves root the reserve: root\'s stat, cat and create still work', async () => {
  // The user creates files until the table refuses (the kernel keeps them all cached).
  const r = spawnSync('sh', ['-c', 'i=0; while [ $i -lt 1100 ]; do true > f$i || break; i=$((i+1)); done; echo made $i'], {
    encoding: 'utf8', uid: USER.uid, gid: USER.gid, cwd: X.m('u'),
  });
  const made = Number(/made (\d+)/.exec(r.stdout)?.[1]);
  assert.ok(made > 900 && made < 1024, `the user made ${made} files`);
  assert.match(r.stderr, /Too many open files|No space|Cannot create/i);
  for (let i = 0; i < 8; i++) assert.is(fs.readFileSync(X.m(`root${i}`), 'utf8'), `r${i}`, 'root reads files the kernel had not seen');
  fs.writeFileSync(X.m('root-new'), 'new');
  assert.is(fs.statSync(X.m('root-new')).size, 3);
  const s = await X.status();
  assert.ok(s.inodes.inUse > made);
});

ex('inodes are not bounded by descriptors: a user stats more files than the daemon may open, each still the right one, and root and status keep working', async () => {
  const Y = mount(['--io', 'passthrough']);
  try {
    const s0 = await Y.status();
    const soft = Number(/Max open files\s+(\d+)/.exec(fs.readFileSync(`/proc/${s0.pid}/limits`, 'utf8'))?.[1]);
    assert.is(s0.inodes.fdBudget, soft - 256);
    const n = soft + 5000;
    fs.mkdirSync(Y.l('d'));
    for (let i = 0; i < n; i++) fs.writeFileSync(Y.l('d', `f${i}`), String(i));
    // Every file stat-ed (the kernel keeps them all), then the first ones, long evicted, read back.
    const py = `import os\nok = 0\nfor i in range(${n}):\n  try: os.stat("${Y.m('d')}/f%d" % i); ok += 1\n  except OSError as e: print(e.strerror); break\n` +
      `bad = [i for i in range(0, ${n}, 97) if open("${Y.m('d')}/f%d" % i).read() != str(i)]\nprint(ok, len(bad))`;
    const r = spawnSync(PY, ['-c', py], { encoding: 'utf8', uid: USER.uid, gid: USER.gid });
    assert.is(r.stdout.trim(), `${n} 0`, r.stderr);
    for (let i = 0; i < 20; i++) assert.is(fs.readFileSync(Y.m(`d/f${i}`), 'utf8'), String(i));
    const s1 = await Y.status();
    assert.ok(s1.inodes.inUse > n, JSON.stringify(s1.inodes));
    assert.ok(s1.inodes.cachedFds + s1.inodes.openFds <= s1.inodes.fdBudget, JSON.stringify(s1.inodes));
    assert.ok(s1.inodes.evicted > 5000 && s1.inodes.reopened > 0, JSON.stringify(s1.inodes));
  } finally {
    Y.umount();
  }
});

ex('passthrough opens hold no descriptor in the daemon: more files open at once than its file limit', async () => {
  const Y = mount(['--io', 'passthrough']);
  const users: ReturnType<typeof spawn>[] = [];
  try {
    const per = 12_000; // two users' worth: more than the daemon's 20000
    fs.mkdirSync(Y.l('d'));
    for (let i = 0; i < 2 * per; i++) fs.writeFileSync(Y.l('d', `f${i}`), String(i));
    const outs = ['', ''];
    for (let u = 0; u < 2; u++) {
      const py = `import os, sys, time\nfds = []\ntry:\n  for i in range(${u * per}, ${(u + 1) * per}): fds.append(os.open("${Y.m('d')}/f%d" % i, os.O_RDONLY))\nexcept OSError as e: print(e.strerror)\n` +
        `bad = [i for i, fd in enumerate(fds) if os.pread(fd, 16, 0) != str(${u * per} + i).encode()]\nos.fsync(fds[0])\nprint(len(fds), len(bad)); sys.stdout.flush()\ntime.sleep(30)`;
      const p = spawn(PY, ['-c', py], { uid: USER.uid, gid: USER.gid });
      p.stdout.on('data', (b) => { outs[u] += b; });
      users.push(p);
    }
    for (let i = 0; i < 1200 && !outs.every((o) => /\n$/.test(o)); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(outs.map((o) => o.trim()), [`${per} 0`, `${per} 0`]);
    const s = await Y.status();
    assert.ok(s.opens.passthrough >= 2 * per, JSON.stringify(s.opens));
    assert.ok(s.inodes.openFds < 100 && s.inodes.cachedFds + s.inodes.openFds <= s.inodes.fdBudget, JSON.stringify(s.inodes));
    assert.is(fs.readFileSync(Y.m('d', 'f7'), 'utf8'), '7');
  } finally {
    await killAll(users);
    Y.umount();
  }
});

ex('a user holding mediated files open until the daemon\'s descriptors run short leaves root the last of them', async () => {
  const Y = mount(['--io', 'mediated']);
  const users: ReturnType<typeof spawn>[] = [];
  try {
    const s0 = await Y.status();
    const n = s0.inodes.fdBudget; // more than a user may take
    fs.mkdirSync(Y.l('d'));
    for (let i = 0; i < n + 20; i++) fs.closeSync(fs.openSync(Y.l('d', `f${i}`), 'w'));
    // The user opens files and holds them, until refused; then root opens and reads others.
    const py = `import os, sys, time\nfds = []\ntry:\n  for i in range(${n}): fds.append(os.open("${Y.m('d')}/f%d" % i, os.O_RDONLY))\nexcept OSError as e: print(e.strerror)\nprint(len(fds)); sys.stdout.flush()\ntime.sleep(30)`;
    const user = spawn(PY, ['-c', py], { uid: USER.uid, gid: USER.gid });
    users.push(user);
    let out = '';
    user.stdout.on('data', (b) => { out += b; });
    for (let i = 0; i < 600 && !/\d+\n$/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    const [why, held] = out.trim().split('\n');
    assert.is(why, 'Too many open files in system', out);
    assert.ok(Number(held) > n * 0.9, held);
    for (let i = n; i < n + 20; i++) assert.is(fs.readFileSync(Y.m('d', `f${i}`), 'utf8'), '');
    const s = await Y.status();
    assert.ok(s.inodes.openFds >= Number(held), JSON.stringify(s.inodes));
  } finally {
    await killAll(users);
    Y.umount();
  }
});

/** Kill the users' processes and wait for them: their files are closed before the unmount, whatever failed. */
async function killAll(ps: ReturnType<typeof spawn>[]): Promise<void> {
  await Promise.all(ps.filter((p) => p.exitCode === null && p.signalCode === null).map((p) => {
    const exited = new Promise((r) => p.on('exit', r));
    p.kill('SIGKILL');
    return exited;
  }));
}

ex.run();
