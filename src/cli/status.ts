// Human-readable `passfs status`.
import type { DaemonStatus } from '../server/status.js';

export function printStatus(s: DaemonStatus): void {
  const w = (line = '') => process.stdout.write(line + '\n');
  w(`passfs ${s.mountpoint} <- ${s.lower}  (pid ${s.pid}, up ${s.uptimeSeconds}s)`);
  w(`  mount options: ${s.mountOptions || 'none'} (README, "Mount options")`);
  w(`  io ${s.io}, transport ${s.transport}, mediated engine ${s.mediatedEngine}, passthrough ${s.capabilities.passthrough ? 'agreed' : s.io === 'passthrough' ? 'not available' : 'not asked for'}`);
  w(`  requests by transport: ${s.transports.devfuse} /dev/fuse (${s.transports.emptyWakeups} wake-ups for a request another worker took), ${s.transports.uring} io_uring${s.uring ? ` (workers ${s.uring.pinned ? 'pinned to their queues\' CPUs' : 'free to move'})` : ''}`);
  w(`  mediated I/O: ${s.mediatedIo.inline} at once, ${s.mediatedIo.async} through io_uring`);
  w(`  workers ${s.workers.alive}/${s.workers.count} alive, ${s.workers.restarts} restarts`);
  w(`  opens: ${s.opens.passthrough} passthrough, ${s.opens.mediated} mediated, ${s.opens.fallback} fallback, ${s.opens.denied} denied`);
  w(`  mediated bytes: ${s.bytes.read} read, ${s.bytes.written} written`);
  w(`  inodes: ${s.inodes.inUse} in use of ${s.inodes.capacity}; descriptors ${s.inodes.cachedFds} cached + ${s.inodes.openFds} for open files of ${s.inodes.fdBudget} (${s.inodes.reopened} reopened by handle, ${s.inodes.evicted} evicted)`);
  const reqs = Object.entries(s.requests).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  w(`  requests: ${reqs.map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`);
  if (s.policy) {
    w(`  policy ${s.policy.file}: ${s.policy.decisions} decisions, ${s.policy.microsPerDecision} µs each`);
    const hits = [...s.policy.rules.map((r) => `${r.name} ${r.hits}`), `default ${s.policy.default.hits}`];
    w(`    hits: ${hits.join(', ')}`);
  }
  const open = s.openFiles ?? [];
  const by = (m: string) => open.filter((f) => f.mode === m).length;
  w(`  open files: ${open.length}${open.length >= 1000 ? '+' : ''} (${by('passthrough')} passthrough, ${by('mediated')} mediated)`);
  for (const f of open.slice(0, 10)) w(`    ${f.mode.padEnd(11)} ${f.path} (${f.opens} open${f.opens === 1 ? '' : 's'}, last by pid ${f.opener.pid} ${f.opener.comm ?? '?'} uid ${f.opener.uid})`);
  if (open.length > 10) w(`    ... ${open.length - 10} more (passfs status --json lists them all)`);
  const fb = Object.entries(s.fallbackReasons ?? {});
  if (fb.length) w(`  fallback reasons: ${fb.map(([k, n]) => `${k} ${n}`).join(', ')}`);
}
