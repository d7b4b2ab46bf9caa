// What passfs puts on a machine beyond its own directory, and what it says
// about itself: the mount helper mount(8) runs for `-t fuse.passfs` and
// fstab lines (installed and removed only on request, never by set-up), and
// `passfs --version`.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mounts, FSTYPE } from '../server/mounts.js';
import { ask } from '../server/control.js';
import type { DaemonStatus } from '../server/status.js';

const HELPER = 'mount.fuse.passfs';
/** The first line of every helper passfs writes: only such a file is replaced or removed. */
const MARK = '# passfs mount helper (passfs install-helper; remove with passfs remove-helper)';
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Write the helper into `dir` (mount(8) looks in /sbin, which is /usr/sbin on Debian); returns its path. */
export function installHelper(dir: string, bin: string): string {
  const file = path.join(dir, HELPER);
  if (fs.existsSync(file) && !fs.readFileSync(file, 'utf8').includes(MARK)) {
    throw new Error(`${file} exists and is not passfs's: not replacing it`);
  }
  const script = `#!/bin/sh\n${MARK}\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} mount-helper "$@"\n`;
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, script, { mode: 0o755 });
  fs.renameSync(tmp, file); // all or nothing
  return file;
}

/** Remove the helper from `dir`; says what it did. */
export function removeHelper(dir: string): string {
  const file = path.join(dir, HELPER);
  if (!fs.existsSync(file)) return `${file} was not installed`;
  if (!fs.readFileSync(file, 'utf8').includes(MARK)) throw new Error(`${file} is not passfs's: not removing it`);
  fs.unlinkSync(file);
  return `${file} removed`;
}

/** The package's version (package.json). */
export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The commit this copy was built from: the checkout's, or the one a runtime package recorded (scripts/package.sh). */
export function buildCommit(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(REPO, 'dist/build-info.json'), 'utf8')) as { commit: string }).commit;
  } catch { /* not a package: a checkout */ }
  try {
    const git = (...a: string[]) => execFileSync('git', ['-C', REPO, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    // Only this checkout's own commit (a copy inside some other repository is not that repository's).
    if (fs.realpathSync(git('rev-parse', '--show-toplevel')) === fs.realpathSync(REPO)) return git('rev-parse', '--short', 'HEAD');
  } catch { /* no git */ }
  return 'unknown';
}

/** `passfs --version`: package version and commit; the FUSE protocol each passfs mount agreed with the kernel (asked of its daemon: root only). */
export async function versionLines(): Promise<string[]> {
  const lines = [`passfs ${packageVersion()} (commit ${buildCommit()}), node ${process.versions.node}`];
  for (const m of mounts().filter((x) => x.fstype === FSTYPE)) {
    let proto = 'its daemon does not answer (not root?)';
    try {
      const s = (await ask(m.mountpoint, { cmd: 'status' })) as DaemonStatus;
      proto = `FUSE ${s.capabilities.major}.${s.capabilities.minor} agreed with the kernel`;
    } catch { /* said above */ }
    lines.push(`${m.mountpoint} (from ${m.source}): ${proto}`);
  }
  return lines;
}
