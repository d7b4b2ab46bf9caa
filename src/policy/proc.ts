// The calling process, read from /proc for rules on comm and exe.
import fs from 'node:fs';
import { ProcessInfo } from './types.js';

function readSmall(path: string): string | undefined {
  try {
    return fs.readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}

/**
 * The process behind a FUSE request's pid. FUSE reports the calling
 * *thread*; comm is the name of its process (the thread group leader, so a
 * renamed worker thread does not hide the program), exe the executable
 * (readlink /proc/<pid>/exe; a deleted or replaced binary reads
 * "/path (deleted)"). Fields the kernel will not give (the process is gone,
 * a kernel thread has no exe) are left undefined; this never throws.
 * `want` skips what the policy does not use (see policy.needs).
 */
export function processInfo(pid: number, want: { comm?: boolean; exe?: boolean } = { comm: true, exe: true }): ProcessInfo {
  const info: ProcessInfo = {};
  if (!Number.isInteger(pid) || pid <= 0) return info;
  if (want.comm) {
    let tgid = pid;
    const status = readSmall(`/proc/${pid}/status`);
    const m = status ? /^Tgid:\s*(\d+)/m.exec(status) : null;
    if (m) tgid = Number(m[1]);
    let comm = readSmall(`/proc/${tgid}/comm`);
    if (comm === undefined && tgid !== pid) comm = readSmall(`/proc/${pid}/comm`);
    if (comm !== undefined) info.comm = comm.endsWith('\n') ? comm.slice(0, -1) : comm;
  }
  if (want.exe) {
    try {
      info.exe = fs.readlinkSync(`/proc/${pid}/exe`);
    } catch {
      /* gone, or a kernel thread */
    }
  }
  return info;
}
