// The status counters in the Prometheus text format, over HTTP
// (--metrics HOST:PORT): what the fleet's monitoring scrapes. prom-client
// formats them; each scrape reads one status document (status.ts), so the
// figures are the ones `passfs status --json` shows, under stable names.
import http from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { DaemonStatus } from './status.js';

/** "127.0.0.1:9464", "[::1]:9464", ":9464" (loopback), or a port alone: host and port; throws with a one-line reason. */
export function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d+)$/.exec(v) ?? /^()()(\d+)$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--metrics ${v}: expected HOST:PORT (a port from 1 to 65535), e.g. 127.0.0.1:9464`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

type Status = () => DaemonStatus;

/** The registry of one daemon: every metric is filled from `status()` at each scrape. */
export function registry(status: Status): Registry {
  const reg = new Registry();
  let s: DaemonStatus | null = null;
  // One status document per scrape, read by the first collector and shared by the rest.
  const now = (): DaemonStatus => (s ??= status());
  const counter = (name: string, help: string, labels: string[], fill: (c: Counter, st: DaemonStatus) => void) =>
    new Counter({ name, help, labelNames: labels, registers: [reg], collect() { this.reset(); fill(this, now()); } });
  const gauge = (name: string, help: string, labels: string[], fill: (g: Gauge, st: DaemonStatus) => void) =>
    new Gauge({ name, help, labelNames: labels, registers: [reg], collect() { this.reset(); fill(this, now()); } });

  gauge('passfs_info', 'the mount: lower directory, mount point, io mode, transport (value 1)', ['lower', 'mountpoint', 'io', 'transport', 'fuse'], (g, st) =>
    g.set({ lower: st.lower, mountpoint: st.mountpoint, io: st.io, transport: st.transport, fuse: `${st.capabilities.major}.${st.capabilities.minor}` }, 1));
  gauge('passfs_uptime_seconds', 'seconds since the daemon started', [], (g, st) => g.set(st.uptimeSeconds));
  counter('passfs_requests_total', 'FUSE requests served, by opcode', ['opcode'], (c, st) => {
    for (const [op, n] of Object.entries(st.requests)) if (n > 0) c.inc({ opcode: op }, n);
  });
  counter('passfs_request_errors_total', 'requests answered with an error other than ENOENT or ENOSYS', [], (c, st) => c.inc(st.errors));
  counter('passfs_opens_total', 'opens and creates, by the mode they got (fallback: passthrough refused by the kernel)', ['mode'], (c, st) => {
    for (const [mode, n] of Object.entries(st.opens)) c.inc({ mode }, n);
  });
  counter('passfs_fallbacks_total', 'passthrough refused by the kernel, by errno', ['reason'], (c, st) => {
    for (const [reason, n] of Object.entries(st.fallbackReasons ?? {})) c.inc({ reason }, n);
  });
  counter('passfs_mediated_bytes_total', 'bytes read and written by the daemon for mediated files', ['direction'], (c, st) => {
    c.inc({ direction: 'read' }, st.bytes.read);
    c.inc({ direction: 'written' }, st.bytes.written);
  });
  gauge('passfs_backing_files', 'backing files registered with the kernel now (one per inode in passthrough)', [], (g, st) => g.set(st.backing.live));
  gauge('passfs_workers', 'worker threads, by state', ['state'], (g, st) => {
    g.set({ state: 'configured' }, st.workers.count);
    g.set({ state: 'alive' }, st.workers.alive);
  });
  counter('passfs_worker_restarts_total', 'workers replaced after they died', [], (c, st) => c.inc(st.workers.restarts));
  gauge('passfs_inodes', 'inode table: slots in use, capacity', ['what'], (g, st) => {
    g.set({ what: 'in_use' }, st.inodes.inUse);
    g.set({ what: 'capacity' }, st.inodes.capacity);
  });
  gauge('passfs_descriptors', 'descriptors the daemon holds: cached for inodes, for open files, and their budget', ['what'], (g, st) => {
    g.set({ what: 'cached' }, st.inodes.cachedFds);
    g.set({ what: 'open_files' }, st.inodes.openFds);
    g.set({ what: 'budget' }, st.inodes.fdBudget);
  });
  counter('passfs_descriptor_events_total', 'inode descriptors reopened by file handle, and evicted to stay within the budget', ['event'], (c, st) => {
    c.inc({ event: 'reopened' }, st.inodes.reopened);
    c.inc({ event: 'evicted' }, st.inodes.evicted);
  });
  gauge('passfs_open_files', 'files open through the mount now, by mode (the first 1000 listed)', ['mode'], (g, st) => {
    const by: Record<string, number> = { passthrough: 0, mediated: 0 };
    for (const f of st.openFiles) by[f.mode] += f.opens;
    for (const [mode, n] of Object.entries(by)) g.set({ mode }, n);
  });
  counter('passfs_policy_rule_hits_total', 'opens and creates decided by each policy rule', ['rule', 'action'], (c, st) => {
    if (!st.policy) return;
    for (const r of st.policy.rules) c.inc({ rule: r.name, action: r.action }, r.hits);
    c.inc({ rule: 'default', action: st.policy.default.action }, st.policy.default.hits);
  });
  counter('passfs_watch_events_total', 'changes made beside the mount that the daemon saw, and told the kernel of', ['kind'], (c, st) => {
    if (!st.watch.on) return;
    for (const k of ['events', 'own', 'invalEntry', 'invalInode', 'epochs', 'unknown'] as const) c.inc({ kind: k }, st.watch[k]);
  });
  reg.registerMetric(latencyHistogram(now) as never);
  const collect = reg.metrics.bind(reg);
  reg.metrics = async () => {
    s = null;
    try {
      return await collect();
    } finally {
      s = null;
    }
  };
  return reg;
}

/**
 * passfs_request_duration_seconds: the workers' latency buckets by opcode
 * (stats.ts) as one Prometheus histogram. prom-client's Histogram observes
 * values itself and cannot take counts made elsewhere, so this is a metric
 * of the registry's own shape (name, help, type, get) filled from the
 * status document.
 */
function latencyHistogram(now: () => DaemonStatus) {
  const name = 'passfs_request_duration_seconds';
  const get = async () => {
    const { boundsMicros, byOpcode } = now().latency;
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const [opcode, o] of Object.entries(byOpcode)) {
      let cum = 0;
      boundsMicros.forEach((us, i) => {
        cum += o.buckets[i];
        values.push({ labels: { opcode, le: us / 1e6 }, value: cum, metricName: `${name}_bucket` });
      });
      values.push({ labels: { opcode, le: '+Inf' }, value: o.count, metricName: `${name}_bucket` });
      values.push({ labels: { opcode }, value: o.sumMicros / 1e6, metricName: `${name}_sum` });
      values.push({ labels: { opcode }, value: o.count, metricName: `${name}_count` });
    }
    return { name, help: 'time from a request\'s arrival in the daemon to its reply, by opcode', type: 'histogram', values, aggregator: 'sum' };
  };
  return { name, get, getForPromString: get };
}

/** Serve GET /metrics; resolves once listening (rejects with a one-line reason). */
export function serveMetrics(listen: string, status: Status): Promise<http.Server> {
  const { host, port } = parseListen(listen);
  const reg = registry(status);
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) {
      res.writeHead(404).end('passfs: only /metrics here\n');
      return;
    }
    reg.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': reg.contentType }).end(text),
      (e: Error) => res.writeHead(500).end(`passfs: ${e.message}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new Error(`--metrics ${listen}: ${e.code ?? e.message}`)));
    server.listen(port, host, () => resolve(server));
  });
}
