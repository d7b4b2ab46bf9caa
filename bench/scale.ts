// The scale job: runs bench/scale-workload.ts in its own process under the
// directory being measured and reads back its figures.
import path from 'node:path';
import { run } from './proc.js';
import type { ScaleFigures } from './scale-workload.js';

export { makeScaleTree } from './scale-workload.js';

const WORKLOAD = path.join(path.dirname(new URL(import.meta.url).pathname), 'scale-workload.ts');
const REPO = path.resolve(path.dirname(WORKLOAD), '..');

/** Seconds to stat n files and to hold `open` of them open; throws with the counts reached if either falls short. */
export async function runScale(root: string, n: number, open: number): Promise<Record<string, number>> {
  const r = await run(process.execPath, ['--import', 'tsx', WORKLOAD, root, String(n), String(open)], { cwd: REPO });
  if (r.code !== 0) {
    const msg = r.stderr.trim().split('\n').filter(Boolean).at(-1) ?? `exit ${r.code ?? r.signal}`;
    throw new Error(msg.replace(/^scale:\s*/, ''));
  }
  const f = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as ScaleFigures;
  if (f.statOk < n || f.openOk < open) {
    throw new Error(`${f.statOk} of ${n} files stat-ed, ${f.openOk} of ${open} held open (${f.error})`);
  }
  return { stat: f.stat, open: f.open, statOk: f.statOk, openOk: f.openOk };
}
