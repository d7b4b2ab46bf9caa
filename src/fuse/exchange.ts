// The seam between transports and the file system: an Exchange is one request
// and the reply being built for it, plus the way to send that reply later
// when the request is served asynchronously. Transports (src/transports/)
// make exchanges; the file system (src/fs/mirror.ts) is the Handler that
// serves them. Nothing here knows about /dev/fuse or io_uring.
import { Request, Reply } from './codec.js';

export interface Exchange {
  /** Unique within the worker: completions of async I/O find their exchange by it (ranges: DEVFUSE_ID_BASE, URING_ID_BASE). */
  readonly id: number;
  readonly req: Request;
  readonly rep: Reply;
  /** True when req and rep stay valid until `owner.send` (false: the buffer is reused after dispatch returns). */
  readonly stable: boolean;
  readonly owner: ExchangeOwner;
}

export interface ExchangeOwner {
  /** Send the reply of `x` (total length from `rep.finish`); 0 sends nothing. Frees the exchange. */
  send(x: Exchange, len: number): void;
  /** A stable copy of an unstable exchange, for serving it asynchronously; null when none is free. */
  stabilize(x: Exchange): Exchange | null;
}

/**
 * "The reply will be sent later, through `owner.send`." Returned by
 * dispatch and by the operations under it; below every -errno (errnos are
 * under 4096), so it never reads as an answer.
 */
export const PENDING = -0x10000;

/** What a transport serves requests with (the file system, fs/mirror.ts). */
export interface Handler {
  /** Serves one exchange: returns the total reply length, 0 for no reply, or PENDING. */
  dispatch(x: Exchange): number;
  /**
   * Called after each dispatch, once its reply (if any) is sent: work that
   * must not delay the reply. The exchange may be reused right after.
   */
  afterReply(): void;
}

// Exchange ids of one worker: each transport takes its own range, derived
// here so that the ranges cannot meet. /dev/fuse: its one reused exchange,
// then up to DEVFUSE_ASYNC stable copies; io_uring: one id per entry after.
/** Requests a /dev/fuse transport may have in flight asynchronously. */
export const DEVFUSE_ASYNC = 32;
export const DEVFUSE_ID_BASE = 0;
export const URING_ID_BASE = DEVFUSE_ID_BASE + 1 + DEVFUSE_ASYNC;
