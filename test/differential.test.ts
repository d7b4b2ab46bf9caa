// A seeded random sequence of operations applied through the mount and to a
// plain reference directory must give the same results, data and listings.
// PASSFS_SEED=<n> replays a failure; PASSFS_OPS=<n> changes the length.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { native } from '../src/native/index.js';
import { mount, Mount, scratch, CONFIGS } from './helpers.js';

const OPS = Number(process.env.PASSFS_OPS ?? 10_000);
const SEED = Number(process.env.PASSFS_SEED ?? (Date.now() % 2 ** 31));

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function outcome(fn: () => unknown): string {
  try {
    const r = fn();
    if (typeof r === 'number' && r < 0) return `E${-r}`;
    if (Buffer.isBuffer(r)) return `buf:${crypto.createHash('sha1').update(r).digest('hex')}`;
    if (Array.isArray(r)) return `list:${[...r].sort().join(',')}`;
    return 'ok';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'THROW';
  }
}

/** Everything about a tree that both sides must agree on. */
function snapshot(root: string): string[] {
  const out: string[] = [];
  const xbuf = new Uint8Array(4096);
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const p = path.join(root, rel, name);
      const st = fs.lstatSync(p);
      const r = path.join(rel, name);
      const n = native.listxattr(p, xbuf, 0, xbuf.length, false);
      const x = n > 0 ? Buffer.from(xbuf.subarray(0, n)).toString().split('\0').filter(Boolean).sort().join(',') : '';
      let line = `${r} mode=${st.mode.toString(8)} nlink=${st.nlink} xattrs=${x}`;
      if (st.isFile()) line += ` size=${st.size} sha1=${crypto.createHash('sha1').update(fs.readFileSync(p)).digest('hex')}`;
      if (st.isFile() && (st.mtimeMs === 1e6 || st.mtimeMs === 2e6)) line += ` mtime=${st.mtimeMs}`;
      out.push(line);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('.');
  return out;
}

for (const [ci, cfg] of CONFIGS.entries()) {
  const io = cfg.name;
  const t = suite(`differential (${cfg.name})`);
  let M: Mount;
  let ref: string;
  t.before(() => {
    M = mount(cfg.args);
    ref = scratch('passfs-ref-');
  });
  t.after(() => {
    M.umount();
    fs.rmSync(ref, { recursive: true, force: true });
  });

  t(`${OPS} random operations give the same results`, () => {
    // Each configuration gets its own sequence, derived from the one printed seed.
    const seed = SEED + ci;
    process.stdout.write(`differential (${io}): PASSFS_SEED=${SEED} PASSFS_OPS=${OPS}\n`);
    const rand = rng(seed);
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)];
    const dirs = ['.', 'a', 'b', 'a/c', 'b/d'];
    const names = ['f0', 'f1', 'f2', 'f3', 'f4', 'a', 'b', 'c', 'd'];
    const anyPath = () => path.join(pick(dirs), pick(names));
    const kinds = [
      'create', 'write', 'write', 'truncate', 'rename', 'link', 'unlink', 'mkdir', 'rmdir',
      'chmod', 'utimens', 'setxattr', 'getxattr', 'removexattr', 'readdir', 'read', 'openwrite',
    ] as const;
    for (let i = 0; i < OPS; i++) {
      const kind = pick(kinds);
      const a = anyPath();
      const b = anyPath();
      const off = Math.floor(rand() * 20000);
      const len = Math.floor(rand() * 9000);
      const fill = Math.floor(rand() * 256);
      const mode = pick([0o600, 0o644, 0o755, 0o700, 0o666]);
      const xname = pick(['user.a', 'user.b']);
      const dir = pick(dirs);
      const mtime = pick([1000, 2000]);
      const run = (root: string): string => {
        const p = (r: string) => path.join(root, r);
        switch (kind) {
          case 'create': return outcome(() => fs.writeFileSync(p(a), Buffer.alloc(len, fill), { flag: 'wx', mode }));
          case 'write': return outcome(() => {
            const fd = fs.openSync(p(a), 'r+');
            try { fs.writeSync(fd, Buffer.alloc(len, fill), 0, len, off); } finally { fs.closeSync(fd); }
          });
          case 'openwrite': return outcome(() => fs.appendFileSync(p(a), Buffer.alloc(len % 100, fill)));
          case 'truncate': return outcome(() => fs.truncateSync(p(a), off));
          case 'rename': return outcome(() => fs.renameSync(p(a), p(b)));
          case 'link': return outcome(() => fs.linkSync(p(a), p(b)));
          case 'unlink': return outcome(() => fs.unlinkSync(p(a)));
          case 'mkdir': return outcome(() => fs.mkdirSync(p(a), mode | 0o700));
          case 'rmdir': return outcome(() => fs.rmdirSync(p(a)));
          case 'chmod': return outcome(() => fs.chmodSync(p(a), mode));
          case 'utimens': return outcome(() => fs.utimesSync(p(a), 1000, mtime));
          case 'setxattr': return outcome(() => native.setxattr(p(a), xname, Buffer.alloc(len % 64, fill), 0, len % 64, 0, false));
          case 'getxattr': return outcome(() => {
            const buf = new Uint8Array(64);
            const n = native.getxattr(p(a), xname, buf, 0, 64, false);
            return n < 0 ? n : Buffer.from(buf.subarray(0, n));
          });
          case 'removexattr': return outcome(() => native.removexattr(p(a), xname, false));
          case 'readdir': return outcome(() => fs.readdirSync(p(dir)));
          case 'read': return outcome(() => fs.readFileSync(p(a)));
        }
      };
      const got = run(M.mnt);
      const want = run(ref);
      if (got !== want) {
        assert.unreachable(`op ${i} ${kind} ${a} ${b} off=${off} len=${len}: mount gave ${got}, reference gave ${want} (PASSFS_SEED=${SEED})`);
      }
    }
    assert.equal(snapshot(M.mnt), snapshot(ref));
    assert.equal(snapshot(M.lower), snapshot(ref));
  });

  t.run();
}
