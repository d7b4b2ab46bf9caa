// The runtime package for storage nodes (issue 18, item 5): built once with
// `npm run package`, installed with `npm install -g` from a clean directory,
// offline, with nothing compiled; the installed copy mounts, and says its
// version and commit.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT, scratch, isMounted } from './helpers.js';

const t = suite('package');
let base: string;
t.before(() => {
  base = scratch();
});
t.after(() => {
  const mnt = path.join(base, 'mnt');
  if (fs.existsSync(mnt) && isMounted(mnt)) spawnSync('umount', ['-l', mnt]);
  fs.rmSync(base, { recursive: true, force: true });
});

t('npm run package builds a tarball that npm install -g puts in place offline, with no compiler; the installed passfs mounts', () => {
  const built = spawnSync('bash', [path.join(ROOT, 'scripts/package.sh'), path.join(base, 'out')], { encoding: 'utf8' });
  assert.is(built.status, 0, built.stderr);
  const tgz = built.stdout.trim().split('\n').pop()!;
  assert.match(path.basename(tgz), /^passfs-\d+\.\d+\.\d+-linux-\w+\.tgz$/);
  // A clean directory, no registry (--offline), and no way to compile: PATH without cc, c++, cmake, make.
  const prefix = path.join(base, 'prefix');
  const bare = path.join(base, 'bin');
  fs.mkdirSync(bare);
  for (const tool of ['node', 'sh', 'mount', 'umount']) fs.symlinkSync(spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim(), path.join(bare, tool));
  const env = { ...process.env, PATH: bare, npm_config_cache: path.join(base, 'cache') };
  const npm = spawnSync(process.execPath, [path.join(path.dirname(process.execPath), '../lib/node_modules/npm/bin/npm-cli.js'), 'install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', tgz], { encoding: 'utf8', env, cwd: base });
  assert.is(npm.status, 0, npm.stderr);
  const lib = path.join(prefix, 'lib/node_modules/passfs');
  const passfs = path.join(prefix, 'bin/passfs');
  // What it holds: the built addon needing only the C library, runtime dependencies, no build tools.
  const ldd = spawnSync('ldd', [path.join(lib, 'build/Release/passfs.node')], { encoding: 'utf8' }).stdout;
  assert.not.match(ldd, /liburing|libstdc\+\+/, ldd);
  for (const dev of ['typescript', 'cmake-js', 'node-addon-api', 'uvu', 'tsx']) assert.not.ok(fs.existsSync(path.join(lib, 'node_modules', dev)), dev);
  assert.ok(fs.existsSync(path.join(prefix, 'share/man/man8/passfs.8')), 'passfs(8) where man finds it');
  // It says which Node it runs on: the major it was built with.
  const major = process.versions.node.split('.')[0];
  assert.is(JSON.parse(fs.readFileSync(path.join(lib, 'package.json'), 'utf8')).engines.node, `>=${major}.0.0 <${Number(major) + 1}`);
  assert.ok(fs.existsSync(path.join(lib, 'completion/passfs.bash')));
  // It runs, and knows what it was built from.
  const v = spawnSync(passfs, ['--version'], { encoding: 'utf8', env });
  assert.is(v.status, 0, v.stderr);
  const commit = spawnSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
  assert.match(v.stdout, new RegExp(`^passfs \\d+\\.\\d+\\.\\d+ \\(commit ${commit}`));
  const lower = path.join(base, 'lower');
  const mnt = path.join(base, 'mnt');
  fs.mkdirSync(lower);
  fs.mkdirSync(mnt);
  fs.writeFileSync(path.join(lower, 'f'), 'node data');
  const m = spawnSync(passfs, ['mount', lower, mnt], { encoding: 'utf8', env });
  assert.is(m.status, 0, m.stderr);
  try {
    assert.is(fs.readFileSync(path.join(mnt, 'f'), 'utf8'), 'node data');
    fs.writeFileSync(path.join(mnt, 'g'), 'written');
    assert.is(fs.readFileSync(path.join(lower, 'g'), 'utf8'), 'written');
  } finally {
    const u = spawnSync(passfs, ['umount', mnt], { encoding: 'utf8', env });
    assert.is(u.status, 0, u.stderr);
  }
  assert.not.ok(isMounted(mnt));
});

t.run();
