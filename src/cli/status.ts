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

/** Per-second rates between two status documents `dt` seconds apart. */
function rate(now: number, before: number, dt: number): string {
  const r = (now - before) / dt;
  return r >= 100 ? r.toFixed(0) : r.toFixed(1);
}

/** Bytes per second, in binary units. */
function bytesRate(now: number, before: number, dt: number): string {
  let r = (now - before) / dt;
  for (const u of ['B', 'KiB', 'MiB', 'GiB']) {
    if (r < 1024 || u === 'GiB') return `${r.toFixed(r < 10 ? 1 : 0)} ${u}/s`;
    r /= 1024;
  }
  return '';
}

/** A latency bound for people: 16 µs, 2 ms, 1 s. */
function micros(us: number): string {
  if (!Number.isFinite(us)) return '>1 s';
  return us >= 1e6 ? `${(us / 1e6).toFixed(1)} s` : us >= 1000 ? `${Math.round(us / 100) / 10} ms` : `${us} µs`;
}

/** The q-quantile of the latencies of `op` seen between two documents: the upper bound of its bucket. */
function quantileBetween(now: DaemonStatus, before: DaemonStatus, op: string, q: number): number {
  const a = now.latency.byOpcode[op];
  if (!a) return 0;
  const b = before.latency.byOpcode[op];
  const d = a.buckets.map((n, i) => n - (b?.buckets[i] ?? 0));
  const total = d.reduce((x, y) => x + y, 0);
  let seen = 0;
  for (let i = 0; i < d.length; i++) {
    seen += d[i];
    if (total > 0 && seen >= q * total) return now.latency.boundsMicros[i] ?? Infinity;
  }
  return Infinity;
}

/** One frame of `passfs status --watch`: what changed between `before` and `now`, per second. */
export function watchFrame(now: DaemonStatus, before: DaemonStatus, dt: number): string[] {
  const lines: string[] = [];
  const w = (l: string) => lines.push(l);
  const total = (s: DaemonStatus) => Object.values(s.requests).reduce((a, n) => a + n, 0);
  w(`passfs ${now.mountpoint} <- ${now.lower}  (pid ${now.pid}, up ${now.uptimeSeconds}s; per second over the last ${dt.toFixed(1)} s)`);
  w(`  requests/s: ${rate(total(now), total(before), dt)} (errors ${rate(now.errors, before.errors, dt)})`);
  const ops = Object.keys(now.requests)
    .map((op) => [op, now.requests[op] - (before.requests[op] ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8);
  for (const [op] of ops) {
    w(`    ${op.padEnd(14)} ${rate(now.requests[op], before.requests[op] ?? 0, dt).padStart(9)}/s   p50 ${micros(quantileBetween(now, before, op, 0.5)).padStart(7)}   p99 ${micros(quantileBetween(now, before, op, 0.99)).padStart(7)}`);
  }
  const o = now.opens;
  const p = before.opens;
  w(`  opens/s: ${rate(o.passthrough, p.passthrough, dt)} passthrough, ${rate(o.mediated, p.mediated, dt)} mediated, ${rate(o.fallback, p.fallback, dt)} fallback, ${rate(o.denied, p.denied, dt)} denied`);
  w(`  mediated I/O: ${bytesRate(now.bytes.read, before.bytes.read, dt)} read, ${bytesRate(now.bytes.written, before.bytes.written, dt)} written`);
  const open = now.openFiles ?? [];
  const by = (m: string) => open.filter((f) => f.mode === m).length;
  w(`  open files now: ${open.length}${open.length >= 1000 ? '+' : ''} (${by('passthrough')} passthrough, ${by('mediated')} mediated)`);
  w(`  workers ${now.workers.alive}/${now.workers.count} alive (${now.workers.restarts} restarts); inodes ${now.inodes.inUse} in use, ${now.inodes.cachedFds + now.inodes.openFds} descriptors`);
  return lines;
}

/**
 * `passfs status --watch`: a frame every `intervalS` seconds, `count` of
 * them (0: until interrupted). On a terminal each frame replaces the last;
 * otherwise frames follow one another, a blank line between.
 */
export async function watchStatus(get: () => Promise<DaemonStatus>, intervalS: number, count: number): Promise<void> {
  const tty = process.stdout.isTTY;
  let before = await get();
  let at = performance.now();
  for (let n = 0; count === 0 || n < count; n++) {
    await new Promise((r) => setTimeout(r, intervalS * 1000));
    const now = await get();
    const t = performance.now();
    const frame = watchFrame(now, before, (t - at) / 1000);
    process.stdout.write((tty ? '\x1b[H\x1b[2J' : n > 0 ? '\n' : '') + frame.join('\n') + '\n');
    before = now;
    at = t;
  }
}
