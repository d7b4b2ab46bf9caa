// The scratch directory: DIR/lower (the lower directory of every mode, with
// the shared data file) and DIR/mnt/<mode> (mount points). A marker file tells
// a bench scratch directory from anything else, so leftovers of a killed run
// are cleared and nothing else is ever touched.
import fs from 'node:fs';
import path from 'node:path';
import { BenchError, mountsUnder } from './system.js';

const MARKER = '.passfs-bench';

export interface Scratch {
  dir: string;
  lower: string;
  mnt(mode: string): string;
  /** The bench made DIR itself (and so removes it whole). */
  created: boolean;
}

let current: Scratch | null = null;

export function prepareScratch(dirArg: string): Scratch {
  const dir = path.resolve(dirArg);
  const stale = mountsUnder(dir);
  if (stale.length) throw new BenchError(`${stale[0]} is mounted (left by an earlier run?): passfs umount it first`);
  let created = false;
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(dir, { recursive: true });
    created = true;
  } else {
    if (!fs.statSync(dir).isDirectory()) throw new BenchError(`--dir ${dir} is not a directory`);
    const entries = fs.readdirSync(dir);
    if (entries.length && !entries.includes(MARKER)) throw new BenchError(`--dir ${dir} is not empty and not a bench scratch directory`);
    for (const e of entries) fs.rmSync(path.join(dir, e), { recursive: true, force: true });
  }
  fs.writeFileSync(path.join(dir, MARKER), `passfs bench scratch directory (pid ${process.pid}); removed when the bench ends\n`);
  const lower = path.join(dir, 'lower');
  fs.mkdirSync(lower);
  current = { dir, lower, mnt: (mode) => path.join(dir, 'mnt', mode), created };
  return current;
}

/** Remove what the bench put in the scratch directory (call once nothing is mounted there). */
export function removeScratch(): string[] {
  if (!current) return [];
  const s = current;
  const left = mountsUnder(s.dir);
  if (left.length) return [`not removing ${s.dir}: ${left.join(', ')} still mounted`];
  try {
    if (s.created) fs.rmSync(s.dir, { recursive: true, force: true });
    else for (const e of ['lower', 'mnt', MARKER]) fs.rmSync(path.join(s.dir, e), { recursive: true, force: true });
  } catch (e) {
    return [`removing ${s.dir}: ${(e as Error).message}`];
  }
  current = null;
  return [];
}
