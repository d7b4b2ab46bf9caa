// `npm start`: the main job on a built-in default. Mounts a demo directory
// twice, once with kernel passthrough and once mediated, writes and reads the
// same file through each and shows how many requests reached the daemon.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { ask } from '../server/control.js';

export async function runDemo(bin: string, sizeMiB: number): Promise<void> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'passfs-demo-'));
  const lower = path.join(base, 'lower');
  const mnt = path.join(base, 'mnt');
  fs.mkdirSync(lower);
  fs.mkdirSync(mnt);
  const data = crypto.randomBytes(sizeMiB << 20);
  const say = (s: string) => process.stdout.write(s + '\n');
  say(`passfs demo: mirroring ${lower} at ${mnt}, ${sizeMiB} MiB per mode`);
  try {
    for (const io of ['passthrough', 'mediated'] as const) {
      execFileSync(process.execPath, [bin, 'mount', lower, mnt, '--io', io], { stdio: 'inherit' });
      try {
        const file = path.join(mnt, `${io}.bin`);
        const t0 = process.hrtime.bigint();
        fs.writeFileSync(file, data);
        const back = fs.readFileSync(file);
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        const same = Buffer.compare(back, data) === 0 && Buffer.compare(fs.readFileSync(path.join(lower, `${io}.bin`)), data) === 0;
        const s = await ask(fs.realpathSync(mnt), { cmd: 'status' });
        say(`  ${io.padEnd(11)} data ${same ? 'identical' : 'DIFFERENT'} (through the mount and on the lower fs), ${ms.toFixed(0)} ms;` +
          ` requests reaching the daemon: READ ${s.requests.READ}, WRITE ${s.requests.WRITE}, total ${Object.values(s.requests as Record<string, number>).reduce((a, b) => a + b, 0)};` +
          ` opens ${JSON.stringify(s.opens)}`);
        if (!same) throw new Error(`data mismatch in ${io} mode`);
      } finally {
        execFileSync(process.execPath, [bin, 'umount', mnt], { stdio: 'inherit' });
      }
    }
    say('passfs demo: done. Passthrough keeps READ and WRITE at 0: the kernel serves them from the lower file.');
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}
