// The one opcode table (src/fuse/opcodes.ts): every operation the mirror
// serves has a row, the rows are consistent, and the fixed argument sizes are
// the kernel's (protocol 7.45). A handler added without its row, or a struct
// with a wrong size, fails here instead of only over io_uring.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { OPCODES, Op, OP_SLOTS, opNames, fixedInSize, answerOf, Answer, type OpName } from '../src/fuse/opcodes.js';
import { HANDLERS, Mirror } from '../src/fs/mirror.js';

const t = suite('opcode table');

t('every opcode the mirror serves has a row, and a method', () => {
  for (const [name, method] of Object.entries(HANDLERS)) {
    const row = (OPCODES as Record<string, { op: number; in: number } | undefined>)[name];
    assert.ok(row, `the mirror serves ${name}, which has no row in the opcode table`);
    assert.type(row.in, 'number', `${name}: no fixed argument size`);
    assert.type((Mirror.prototype as unknown as Record<string, unknown>)[method], 'function', `${name}: Mirror has no method ${method}`);
  }
});

t('numbers are unique, below OP_SLOTS, and name and number agree both ways', () => {
  const seen = new Set<number>();
  for (const [name, row] of Object.entries(OPCODES)) {
    assert.ok(row.op > 0 && row.op < OP_SLOTS, `${name}: ${row.op}`);
    assert.not.ok(seen.has(row.op), `${name}: ${row.op} taken twice`);
    seen.add(row.op);
    assert.is(Op[name as OpName], row.op);
    assert.is(opNames[row.op], name);
    assert.is(fixedInSize[row.op], row.in);
    assert.is(answerOf[row.op], row.answer);
  }
});

t('fixed argument sizes are the kernel\'s', () => {
  // sizeof(struct fuse_*_in) in the uapi header, protocol 7.45 (no SETXATTR_EXT).
  const kernel: Partial<Record<OpName, number>> = {
    FORGET: 8, GETATTR: 16, SETATTR: 88, MKNOD: 16, MKDIR: 8, RENAME: 8, LINK: 8, OPEN: 8,
    READ: 40, WRITE: 40, RELEASE: 24, FSYNC: 16, SETXATTR: 8, GETXATTR: 8, LISTXATTR: 8, FLUSH: 24,
    INIT: 64, OPENDIR: 8, READDIR: 40, RELEASEDIR: 24, FSYNCDIR: 16, GETLK: 48, SETLK: 48, SETLKW: 48,
    ACCESS: 8, CREATE: 16, INTERRUPT: 8, BMAP: 16, IOCTL: 32, POLL: 24, BATCH_FORGET: 8, FALLOCATE: 32,
    READDIRPLUS: 40, RENAME2: 16, LSEEK: 24, COPY_FILE_RANGE: 56, COPY_FILE_RANGE_64: 56, SYNCFS: 8,
    TMPFILE: 16, STATX: 24, LOOKUP: 0, UNLINK: 0, RMDIR: 0, SYMLINK: 0, READLINK: 0, STATFS: 0, REMOVEXATTR: 0,
  };
  for (const [name, size] of Object.entries(kernel)) assert.is(OPCODES[name as OpName].in, size, name);
});

t('how each request is answered', () => {
  for (const name of ['FORGET', 'BATCH_FORGET', 'INTERRUPT'] as const) assert.is(OPCODES[name].answer, Answer.none, name);
  // What the mediated engine may answer later is built in the request's own buffer.
  for (const name of ['READ', 'WRITE', 'FSYNC', 'FALLOCATE'] as const) assert.is(OPCODES[name].answer, Answer.inPlace, name);
  for (const name of ['LOOKUP', 'GETATTR', 'OPEN', 'CREATE', 'READDIRPLUS'] as const) assert.is(OPCODES[name].answer, Answer.reply, name);
});

t.run();
