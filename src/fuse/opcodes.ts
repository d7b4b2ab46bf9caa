// The one opcode table: one row per FUSE opcode with its number, the size of
// its fixed argument struct (structs.ts), and how it is answered. Everything
// else about opcodes is derived from it: names for the counters and status,
// what the io_uring transport copies and where it builds the reply, whether
// dispatch sends a reply at all. The file system registers its operations by
// the row names (fs/mirror.ts, HANDLERS); a test checks that every operation
// it serves has a row (test/opcodes.test.ts).
//
// A new opcode: a row here (and its struct in structs.ts), a handler in the
// mirror. Nothing else.
import {
  AccessIn, BatchForgetIn, BmapIn, CopyFileRangeIn, CreateIn, FallocateIn, FlushIn, ForgetIn, FsyncIn,
  GetattrIn, GetxattrIn, InitIn, InterruptIn, IoctlIn, LinkIn, LkIn, LseekIn, MkdirIn, MknodIn, OpenIn,
  PollIn, ReadIn, ReleaseIn, Rename2In, RenameIn, SetattrIn, SetxattrIn, StatxIn, SyncfsIn, WriteIn,
} from './structs.js';

/** How a request is answered. */
export const enum Answer {
  /** A reply, built in a scratch buffer (metadata). */
  reply = 0,
  /** No reply ever (FORGET, BATCH_FORGET, INTERRUPT: the kernel waits for none). */
  none = 1,
  /**
   * A reply built in place, in the request's own buffer (data, and every
   * request the mediated engine may answer later: the reply must outlive
   * the transport's scratch buffer).
   */
  inPlace = 2,
}

interface Row {
  readonly op: number;
  /** Bytes of the fixed argument struct; names and data follow it. */
  readonly in: number;
  readonly answer: Answer;
}

const R = Answer.reply;
const NONE = Answer.none;
const IN_PLACE = Answer.inPlace;

export const OPCODES = {
  LOOKUP: { op: 1, in: 0, answer: R },
  FORGET: { op: 2, in: ForgetIn.SIZE, answer: NONE },
  GETATTR: { op: 3, in: GetattrIn.SIZE, answer: R },
  SETATTR: { op: 4, in: SetattrIn.SIZE, answer: R },
  READLINK: { op: 5, in: 0, answer: R },
  SYMLINK: { op: 6, in: 0, answer: R },
  MKNOD: { op: 8, in: MknodIn.SIZE, answer: R },
  MKDIR: { op: 9, in: MkdirIn.SIZE, answer: R },
  UNLINK: { op: 10, in: 0, answer: R },
  RMDIR: { op: 11, in: 0, answer: R },
  RENAME: { op: 12, in: RenameIn.SIZE, answer: R },
  LINK: { op: 13, in: LinkIn.SIZE, answer: R },
  OPEN: { op: 14, in: OpenIn.SIZE, answer: R },
  READ: { op: 15, in: ReadIn.SIZE, answer: IN_PLACE },
  WRITE: { op: 16, in: WriteIn.SIZE, answer: IN_PLACE },
  STATFS: { op: 17, in: 0, answer: R },
  RELEASE: { op: 18, in: ReleaseIn.SIZE, answer: R },
  FSYNC: { op: 20, in: FsyncIn.SIZE, answer: IN_PLACE },
  SETXATTR: { op: 21, in: SetxattrIn.SIZE, answer: R },
  GETXATTR: { op: 22, in: GetxattrIn.SIZE, answer: R },
  LISTXATTR: { op: 23, in: GetxattrIn.SIZE, answer: R },
  REMOVEXATTR: { op: 24, in: 0, answer: R },
  FLUSH: { op: 25, in: FlushIn.SIZE, answer: R },
  INIT: { op: 26, in: InitIn.SIZE, answer: R },
  OPENDIR: { op: 27, in: OpenIn.SIZE, answer: R },
  READDIR: { op: 28, in: ReadIn.SIZE, answer: R },
  RELEASEDIR: { op: 29, in: ReleaseIn.SIZE, answer: R },
  FSYNCDIR: { op: 30, in: FsyncIn.SIZE, answer: R },
  GETLK: { op: 31, in: LkIn.SIZE, answer: R },
  SETLK: { op: 32, in: LkIn.SIZE, answer: R },
  SETLKW: { op: 33, in: LkIn.SIZE, answer: R },
  ACCESS: { op: 34, in: AccessIn.SIZE, answer: R },
  CREATE: { op: 35, in: CreateIn.SIZE, answer: R },
  INTERRUPT: { op: 36, in: InterruptIn.SIZE, answer: NONE },
  BMAP: { op: 37, in: BmapIn.SIZE, answer: R },
  DESTROY: { op: 38, in: 0, answer: R },
  IOCTL: { op: 39, in: IoctlIn.SIZE, answer: R },
  POLL: { op: 40, in: PollIn.SIZE, answer: R },
  NOTIFY_REPLY: { op: 41, in: 0, answer: NONE },
  BATCH_FORGET: { op: 42, in: BatchForgetIn.SIZE, answer: NONE },
  FALLOCATE: { op: 43, in: FallocateIn.SIZE, answer: IN_PLACE },
  READDIRPLUS: { op: 44, in: ReadIn.SIZE, answer: R },
  RENAME2: { op: 45, in: Rename2In.SIZE, answer: R },
  LSEEK: { op: 46, in: LseekIn.SIZE, answer: R },
  COPY_FILE_RANGE: { op: 47, in: CopyFileRangeIn.SIZE, answer: R },
  SETUPMAPPING: { op: 48, in: 0, answer: R },
  REMOVEMAPPING: { op: 49, in: 0, answer: R },
  SYNCFS: { op: 50, in: SyncfsIn.SIZE, answer: R },
  TMPFILE: { op: 51, in: CreateIn.SIZE, answer: R },
  STATX: { op: 52, in: StatxIn.SIZE, answer: R },
  COPY_FILE_RANGE_64: { op: 53, in: CopyFileRangeIn.SIZE, answer: R },
} as const satisfies Record<string, Row>;

export type OpName = keyof typeof OPCODES;

/** Counters and the arrays below are indexed by opcode; anything from here on lands in slot 0 ("OTHER"). */
export const OP_SLOTS = 64;

/** Opcode numbers by name: `Op.LOOKUP`. */
export const Op = {} as { readonly [K in OpName]: (typeof OPCODES)[K]['op'] };
/** Per opcode: its name, its fixed argument size, how it is answered (unknown opcodes: 0, reply). */
export const opNames: readonly string[] = [];
export const fixedInSize = new Uint16Array(OP_SLOTS);
export const answerOf = new Uint8Array(OP_SLOTS);
for (const [name, row] of Object.entries(OPCODES) as [OpName, Row][]) {
  if (row.op >= OP_SLOTS || (opNames as string[])[row.op] !== undefined) throw new Error(`opcode table: ${name} (${row.op}) is out of range or taken`);
  (Op as Record<string, number>)[name] = row.op;
  (opNames as string[])[row.op] = name;
  fixedInSize[row.op] = row.in;
  answerOf[row.op] = row.answer;
}
Object.freeze(Op);
