// Transport and engine details a user can observe: where io_uring workers
// run (pinned to their queues' CPUs only when the daemon serves metadata
// alone, or when asked), and how the async engine does mediated I/O (a lone
// cached read at once, what would wait for the disk through io_uring).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { native } from '../src/native/index.js';
import { mount, Mount, cli, code, scratch } from './helpers.js';

/** The CPUs a thread of the daemon may run on, as the kernel lists them ("0", "0-1"...). */
function allowedCpus(pid: number, tid: number): string {
  const status = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
  return /^Cpus_allowed_list:\s*(\S+)$/m.exec(status)![1];
}

const allCpus = fs.readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s*(\S+)$/m)![1];

interface WorkerInfo { index: number; tid: number }

const pins = suite('worker pinning');

for (const [args, pinned] of [
  [['--io', 'passthrough', '--transport', 'uring'], true],
  [['--io', 'mediated', '--transport', 'uring'], false],
  [['--io', 'mediated', '--transport', 'uring', '--pin', 'on'], true],
  [['--io', 'passthrough', '--transport', 'uring', '--pin', 'off'], false],
] as [string[], boolean][]) {
  pins(`${args.join(' ')}: workers ${pinned ? 'pinned to their queue CPU' : 'free to move'}`, async () => {
    const M = mount([...args, '--workers', '2']);
    try {
      const s = await M.status();
      assert.is(s.uring.pinned, pinned);
      for (const w of s.workers.list as WorkerInfo[]) {
        // Two workers, queues dealt round-robin: worker i serves the queues of CPUs i, i+2...
        const want = pinned ? (s.uring.queues <= 2 ? String(w.index) : null) : allCpus;
        if (want !== null) assert.is(allowedCpus(s.pid, w.tid), want, `worker ${w.index}`);
      }
      fs.writeFileSync(M.m('f'), 'still serving');
      assert.is(fs.readFileSync(M.m('f'), 'utf8'), 'still serving');
    } finally {
      M.umount();
    }
  });
}

pins('--pin takes auto, on or off only', () => {
  const r = cli(['mount', '/tmp', '/mnt', '--pin', 'sometimes']);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /--pin/);
  assert.match(r.stderr, /auto, on, off|"auto", "on", "off"/);
});

pins.run();

const engine = suite('async engine');
let M: Mount;
engine.before(() => {
  M = mount(['--io', 'mediated', '--mediated', 'async', '--transport', 'devfuse']);
});
engine.after(() => M.umount());

engine('a cached read is served at once; data that would wait for the disk goes through io_uring; both are right', async () => {
  const data = Buffer.alloc(8 << 20);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i, i);
  fs.writeFileSync(M.l('big'), data);
  // Cached on the lower side: one lone read at a time (sync reads, one per request).
  const before = (await M.status()).mediatedIo;
  const fd = fs.openSync(M.m('big'), 'r');
  const buf = Buffer.alloc(4096);
  for (let off = 0; off < 64 * 4096; off += 4096) {
    assert.is(fs.readSync(fd, buf, 0, 4096, off), 4096);
    assert.ok(buf.equals(data.subarray(off, off + 4096)), `data at ${off}`);
  }
  fs.closeSync(fd);
  const cached = (await M.status()).mediatedIo;
  assert.ok(cached.inline > before.inline, `inline ${before.inline} -> ${cached.inline}`);
  // Drop the lower file's pages: now reads would block, so they go through the ring.
  const lfd = fs.openSync(M.l('big'), 'r');
  fs.fdatasyncSync(lfd);
  fs.closeSync(lfd);
  fs.writeFileSync('/proc/sys/vm/drop_caches', '1');
  const fd2 = fs.openSync(M.m('big'), 'r');
  const buf2 = Buffer.alloc(1 << 20);
  let off = 4 << 20; // not read through the mount yet: not in the FUSE page cache either
  for (; off < 8 << 20; off += buf2.length) {
    assert.is(fs.readSync(fd2, buf2, 0, buf2.length, off), buf2.length);
    assert.ok(buf2.equals(data.subarray(off, off + buf2.length)), `data at ${off}`);
  }
  fs.closeSync(fd2);
  const after = (await M.status()).mediatedIo;
  assert.ok(after.async > cached.async, `async ${cached.async} -> ${after.async}`);
});

engine('writes land on the lower file whichever way they go', () => {
  const fd = fs.openSync(M.m('w'), 'w');
  for (let i = 0; i < 256; i++) fs.writeSync(fd, Buffer.alloc(4096, i & 0xff), 0, 4096, i * 4096);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  const lower = fs.readFileSync(M.l('w'));
  assert.is(lower.length, 256 * 4096);
  for (let i = 0; i < 256; i++) assert.is(lower[i * 4096 + 7], i & 0xff, `block ${i}`);
});

engine.run();

const wake = suite('/dev/fuse wake-ups');

wake('each request wakes one worker: few wake-ups find it taken by another, and timers and messages still reach the workers', async () => {
  const dir = scratch();
  const policy = path.join(dir, 'policy.yaml');
  const denying = (name: string) => `version: 1\ndefault: passthrough\nrules:\n  - name: no\n    match: { path: ["${name}"] }\n    action: deny\n`;
  fs.writeFileSync(policy, denying('a'));
  const M = mount(['--transport', 'devfuse', '--workers', '2', '--attr-timeout', '0', '--policy', policy]);
  try {
    fs.writeFileSync(M.m('f'), 'x');
    const before = (await M.status()).transports;
    // With no caching every stat is a LOOKUP and a GETATTR, sent one after
    // the other: while one worker answers, the other waits.
    for (let i = 0; i < 2000; i++) fs.statSync(M.m('f'));
    const after = (await M.status()).transports;
    const requests = after.devfuse - before.devfuse;
    const empty = after.emptyWakeups - before.emptyWakeups;
    assert.ok(requests >= 4000, `requests ${requests}`);
    // Every worker woken for every request would make about half of the
    // wake-ups empty (measured: 55-60%); one per request, 3-4%.
    assert.ok(empty < requests / 4, `${empty} empty wake-ups for ${requests} requests`);
    // The workers' event loops still run: a reload is a message to each,
    // and every open after it (on either worker) follows the new policy.
    fs.writeFileSync(M.l('a'), 'a');
    fs.writeFileSync(policy, denying('f'));
    const r = cli(['reload', M.mnt]);
    assert.is(r.status, 0, r.stderr);
    for (let i = 0; i < 20; i++) {
      assert.is(code(() => fs.readFileSync(M.m('f'))), 'EACCES');
      assert.is(fs.readFileSync(M.m('a'), 'utf8'), 'a');
    }
  } finally {
    M.umount();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

wake.run();

const watch = suite('devWatch on a pipe');

watch('a request after the callback started another fd watcher is served, with nothing else to wake the loop', async () => {
  // libuv applies a new fd watcher at its next poll, and its own timeout does
  // not count it: if the addon let libuv block there, the clone would be
  // unwatched and, with no timer pending, the next request would wait forever.
  const dir = scratch();
  try {
    for (const f of ['req', 'other']) execFileSync('mkfifo', [path.join(dir, f)]);
    const rfd = fs.openSync(path.join(dir, 'req'), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const wfd = fs.openSync(path.join(dir, 'req'), fs.constants.O_WRONLY);
    const ofd = fs.openSync(path.join(dir, 'other'), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const owfd = fs.openSync(path.join(dir, 'other'), fs.constants.O_WRONLY); // a writer that stays silent: no end of file
    const got = new Int32Array(new SharedArrayBuffer(4));
    // The writer is another thread: it sends one request, waits for it to be
    // served, sends the second and waits up to 10 s for that one.
    const writer = new Worker(`
      const fs = require('node:fs');
      const { workerData: { got, wfd }, parentPort } = require('node:worker_threads');
      fs.writeSync(wfd, 'a');
      Atomics.wait(got, 0, 0, 10000);
      if (Atomics.load(got, 0) !== 1) {
        parentPort.postMessage('the first request stalled');
      } else {
        // Later, once the main thread is back waiting (else the same read batch takes it).
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
        fs.writeSync(wfd, 'b');
        Atomics.wait(got, 0, 1, 10000);
        parentPort.postMessage(Atomics.load(got, 0) === 2 ? 'served' : 'the second request stalled');
      }
    `, { eval: true, workerData: { got, wfd } });
    const buf = new Uint8Array(16);
    let socket: net.Socket | undefined;
    const seen: string[] = [];
    const id = native.devWatch(rfd, buf, 8, (n) => {
      if (n <= 0) return;
      seen.push(String.fromCharCode(buf[0]));
      if (!socket) socket = new net.Socket({ fd: ofd, readable: true, writable: false }).on('data', () => {});
      Atomics.add(got, 0, 1);
      Atomics.notify(got, 0);
    });
    assert.ok(id > 0, `devWatch: ${id}`);
    const verdict = await new Promise((r) => writer.once('message', r));
    native.devUnwatch(id);
    socket?.destroy();
    for (const fd of [rfd, wfd, owfd]) fs.closeSync(fd);
    assert.is(verdict, 'served');
    assert.equal(seen, ['a', 'b']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

watch.run();
