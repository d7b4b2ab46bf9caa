// The many-small-files job: runs bench/smallfiles-workload.ts in its own
// process under the directory being measured and reads back its phase times.
import path from 'node:path';
import { run } from './proc.js';
import { PHASES } from './smallfiles-workload.js';

export { PHASES };
export const METRICS = [...PHASES, 'total'] as const;

const WORKLOAD = path.join(path.dirname(new URL(import.meta.url).pathname), 'smallfiles-workload.ts');
const REPO = path.resolve(path.dirname(WORKLOAD), '..');

/** Seconds of each phase and the total, for n files created under root (which must not exist). */
export async function runSmallFiles(root: string, n: number): Promise<Record<string, number>> {
  const r = await run(process.execPath, ['--import', 'tsx', WORKLOAD, root, String(n)], { cwd: REPO });
  if (r.code !== 0) {
    const msg = r.stderr.trim().split('\n').filter(Boolean).at(-1) ?? `exit ${r.code ?? r.signal}`;
    throw new Error(msg.replace(/^many-small-files:\s*/, ''));
  }
  const t = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, number>;
  for (const m of METRICS) if (typeof t[m] !== 'number') throw new Error(`workload output lacks "${m}"`);
  return t;
}
