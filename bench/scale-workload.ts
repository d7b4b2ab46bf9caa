// The scale workload, run as its own process and timed from inside:
//   node --import tsx bench/scale-workload.ts ROOT N OPEN
// stats the N files of ROOT's layout (made by makeScaleTree) one by one,
// then holds OPEN of them open at once, spread over child processes (each
// keeps well under the per-process file limit, as many clients of a storage
// node would), and prints the seconds and counts as one JSON line. A count
// short of the goal is reported with the first error, not thrown: how far
// it got is the figure.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';

const PER_DIR = 1000;
/** Files one child holds open (the machine's limit is 20000 per process). */
const PER_CHILD = 15_000;

export const scalePath = (root: string, i: number): string =>
  path.join(root, `d${String(Math.floor(i / PER_DIR)).padStart(4, '0')}`, `f${i % PER_DIR}`);

/** Make N empty files under root (which must not exist), PER_DIR per directory. */
export function makeScaleTree(root: string, n: number): void {
  fs.mkdirSync(root);
  for (let i = 0; i < n; i++) {
    if (i % PER_DIR === 0) fs.mkdirSync(path.dirname(scalePath(root, i)));
    fs.closeSync(fs.openSync(scalePath(root, i), 'w'));
  }
}

export interface ScaleFigures { stat: number; statOk: number; open: number; openOk: number; error: string }

async function holdOpen(root: string, from: number, to: number): Promise<{ ok: number; error: string; done: () => void }> {
  // The child opens its share, says how many, and holds them until its stdin closes.
  const code = `const fs=require('fs');const p=require('path');let ok=0,err='';` +
    `for(let i=${from};i<${to};i++){try{fs.openSync(p.join(${JSON.stringify(root)},'d'+String(Math.floor(i/${PER_DIR})).padStart(4,'0'),'f'+(i%${PER_DIR})),'r');ok++}catch(e){err=e.code;break}}` +
    `process.stdout.write(ok+' '+err+'\\n');process.stdin.resume();process.stdin.on('end',()=>process.exit(0));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (b) => { out += b; if (out.includes('\n')) resolve(); });
    child.on('exit', (c) => reject(new Error(`an opening child exited (${c}) before reporting`)));
  });
  const [ok, error] = out.trim().split(' ');
  return { ok: Number(ok), error: error ?? '', done: () => child.stdin.end() };
}

export async function scale(root: string, n: number, open: number): Promise<ScaleFigures> {
  let error = '';
  const t0 = process.hrtime.bigint();
  let statOk = 0;
  for (; statOk < n; statOk++) {
    try {
      fs.statSync(scalePath(root, statOk));
    } catch (e) {
      error = `stat: ${(e as NodeJS.ErrnoException).code}`;
      break;
    }
  }
  const t1 = process.hrtime.bigint();
  const holders = [];
  for (let from = 0; from < open; from += PER_CHILD) holders.push(holdOpen(root, from, Math.min(open, from + PER_CHILD)));
  const held = await Promise.all(holders);
  const t2 = process.hrtime.bigint();
  const openOk = held.reduce((a, h) => a + h.ok, 0);
  const failed = held.find((h) => h.error);
  if (failed && !error) error = `open: ${failed.error}`;
  for (const h of held) h.done();
  return { stat: Number(t1 - t0) / 1e9, statOk, open: Number(t2 - t1) / 1e9, openOk, error };
}

if (process.argv[1] && path.resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  const [root, n, open] = process.argv.slice(2);
  if (!root || !(Number(n) > 0) || !(Number(open) >= 0)) {
    process.stderr.write('usage: scale-workload.ts ROOT N OPEN\n');
    process.exit(2);
  }
  scale(path.resolve(root), Number(n), Number(open)).then(
    (f) => process.stdout.write(JSON.stringify(f) + '\n'),
    (e) => { process.stderr.write(`scale: ${(e as Error).message}\n`); process.exit(1); },
  );
}
