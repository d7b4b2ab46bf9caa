// The many-small-files workload, run as its own process (so the bench stays
// responsive to signals) and timed from inside:
//   node --import tsx bench/smallfiles-workload.ts ROOT N
// creates ROOT with N small files across a directory tree, stats, reads and
// renames them all, runs find and grep -r over the tree, unlinks everything,
// and prints the seconds of each phase as one JSON line. ROOT must not exist.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

export const PHASES = ['create', 'stat', 'read', 'rename', 'find', 'grep', 'unlink'] as const;
export type Phase = (typeof PHASES)[number];

const FILES_PER_DIR = 100;
const SUBDIRS = 10;
const POOL = 97;
const NEEDLE = 'passfs_needle';

/** Contents: a pool of text buffers of 512 B to 4 KiB; every tenth holds the needle. */
function pool(): Buffer[] {
  const out: Buffer[] = [];
  let x = 12345;
  for (let k = 0; k < POOL; k++) {
    x = (x * 1103515245 + 12345) >>> 0;
    const size = 512 + (x % 3585);
    let s = '';
    let line = 0;
    while (s.length < size) s += `line ${line++} of a small file, value ${(x = (x * 69069 + 1) >>> 0)}\n`;
    s = s.slice(0, size);
    if (k % 10 === 0) s = s.slice(0, size >> 1) + `\n${NEEDLE}\n` + s.slice(size >> 1);
    out.push(Buffer.from(s));
  }
  return out;
}

export function layout(root: string, n: number): { dirs: string[]; files: string[]; renamed: string[] } {
  const leaves = Math.ceil(n / FILES_PER_DIR);
  const dirs: string[] = [];
  const files: string[] = [];
  const renamed: string[] = [];
  for (let l = 0; l < leaves; l++) {
    const top = path.join(root, `d${String(Math.floor(l / SUBDIRS)).padStart(3, '0')}`);
    if (l % SUBDIRS === 0) dirs.push(top);
    const leaf = path.join(top, `s${String(l % SUBDIRS).padStart(2, '0')}`);
    dirs.push(leaf);
    for (let i = l * FILES_PER_DIR; i < Math.min(n, (l + 1) * FILES_PER_DIR); i++) {
      files.push(path.join(leaf, `f${String(i).padStart(6, '0')}.txt`));
      renamed.push(path.join(leaf, `r${String(i).padStart(6, '0')}.txt`));
    }
  }
  return { dirs, files, renamed };
}

function lines(s: string): number {
  return s.split('\n').filter(Boolean).length;
}

export function workload(root: string, n: number): Record<Phase | 'total', number> {
  const bufs = pool();
  const { dirs, files, renamed } = layout(root, n);
  const expectGrep = files.filter((_, i) => (i % POOL) % 10 === 0).length;
  const t: Partial<Record<Phase | 'total', number>> = {};
  const t0 = process.hrtime.bigint();
  let last = t0;
  const lap = (p: Phase) => {
    const now = process.hrtime.bigint();
    t[p] = Number(now - last) / 1e9;
    last = now;
  };

  fs.mkdirSync(root);
  for (const d of dirs) fs.mkdirSync(d);
  for (let i = 0; i < files.length; i++) fs.writeFileSync(files[i], bufs[i % POOL]);
  lap('create');

  let bytes = 0;
  for (const f of files) bytes += fs.statSync(f).size;
  lap('stat');

  let read = 0;
  for (const f of files) read += fs.readFileSync(f).length;
  lap('read');
  if (read !== bytes) throw new Error(`read ${read} bytes, stat said ${bytes}`);

  for (let i = 0; i < files.length; i++) fs.renameSync(files[i], renamed[i]);
  lap('rename');

  const find = spawnSync('find', [root, '-type', 'f', '-name', 'r*.txt'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  lap('find');
  if (find.status !== 0 || lines(find.stdout) !== n) throw new Error(`find listed ${lines(find.stdout ?? '')} files, expected ${n} (${find.stderr?.trim()})`);

  const grep = spawnSync('grep', ['-r', '-l', NEEDLE, root], { encoding: 'utf8', maxBuffer: 1 << 28 });
  lap('grep');
  if (grep.status !== 0 || lines(grep.stdout) !== expectGrep) throw new Error(`grep matched ${lines(grep.stdout ?? '')} files, expected ${expectGrep} (${grep.stderr?.trim()})`);

  for (const f of renamed) fs.unlinkSync(f);
  for (const d of [...dirs].reverse()) fs.rmdirSync(d);
  fs.rmdirSync(root);
  lap('unlink');

  t.total = Number(process.hrtime.bigint() - t0) / 1e9;
  return t as Record<Phase | 'total', number>;
}

if (process.argv[1] && path.resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  const [root, n] = process.argv.slice(2);
  if (!root || !(Number(n) > 0)) {
    process.stderr.write('usage: smallfiles-workload.ts ROOT N\n');
    process.exit(2);
  }
  try {
    process.stdout.write(JSON.stringify(workload(path.resolve(root), Number(n))) + '\n');
  } catch (e) {
    process.stderr.write(`many-small-files: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
