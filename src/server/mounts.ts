// Reading the mount table.
import fs from 'node:fs';

/** Undo the octal escapes (\040 for a space...) /proc uses in mount paths. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export interface MountEntry {
  mountpoint: string;
  fstype: string;
  source: string;
}

export function mounts(): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (!line) continue;
    const [pre, post] = line.split(' - ');
    const f = pre.split(' ');
    const g = (post ?? '').split(' ');
    out.push({ mountpoint: unescape(f[4]), fstype: g[0], source: unescape(g[1] ?? '') });
  }
  return out;
}

/** The file system type passfs mounts with. */
export const FSTYPE = 'fuse.passfs';

/** The mount on top at `real` (a real path), if any. */
export function mountAt(real: string): MountEntry | undefined {
  let top: MountEntry | undefined;
  for (const m of mounts()) if (m.mountpoint === real) top = m;
  return top;
}

export function isMountpoint(p: string): boolean {
  let real: string;
  try {
    real = fs.realpathSync(p);
  } catch {
    return false;
  }
  return mountAt(real) !== undefined;
}
