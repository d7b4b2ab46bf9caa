// AIO stress: fio with the libaio and io_uring engines, iodepth 32, O_DIRECT,
// crc32c verification, several jobs at once on one mount, for passthrough
// and mediated files over both transports. Zero verify errors, and the data
// verifies again on the lower fs after unmount: nothing acknowledged is lost.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { mount, CONFIGS } from './helpers.js';

const SIZE = process.env.PASSFS_AIO_SIZE ?? '32M';

/** Three jobs at once: libaio and io_uring mixed random I/O, and a libaio random writer. */
function fio(dir: string, extra: string[] = []): { errors: number; out: string } {
  const args = ['--output-format=json', `--directory=${dir}`, '--direct=1', '--iodepth=32', '--bs=4k', `--size=${SIZE}`,
    // No verify state files (fio writes them into the working directory: the repository).
    '--verify=crc32c', '--verify_state_save=0', '--randrepeat=1', '--randseed=1234', ...extra,
    '--name=libaio', '--ioengine=libaio', '--rw=randrw',
    '--name=uring', '--ioengine=io_uring', '--rw=randrw',
    '--name=writer', '--ioengine=libaio', '--rw=randwrite'];
  const r = spawnSync('fio', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const out = (r.stdout ?? '') + (r.stderr ?? '');
  let errors = r.status === 0 ? 0 : 1;
  try {
    const json = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    for (const j of json.jobs) errors += j.error;
  } catch {
    errors += 1000;
  }
  return { errors, out };
}

const t = suite('aio stress');
for (const cfg of CONFIGS) {
  t(`${cfg.name}: libaio + io_uring jobs at iodepth 32, O_DIRECT, verify crc32c; verified again after unmount`, () => {
    const M = mount(cfg.args);
    try {
      const r = fio(M.mnt);
      assert.is(r.errors, 0, r.out.slice(-3000));
    } finally {
      M.umount(true);
    }
    try {
      // Replay the same jobs' verification on the lower files, without the daemon.
      const v = fio(M.lower, ['--verify_only']);
      assert.is(v.errors, 0, v.out.slice(-3000));
    } finally {
      fs.rmSync(M.base, { recursive: true, force: true });
    }
  });
}
t.run();
