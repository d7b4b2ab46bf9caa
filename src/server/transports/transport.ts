// A transport moves requests from the kernel to the file system and replies
// back. The file system (fs/mirror.ts) sees an Exchange: one request and the
// reply being built for it, plus the way to send that reply later when the
// request is served asynchronously. Each transport owns its buffers and waits
// through the worker's own event loop: no thread per request, no busy polling.
import { Request, Reply } from '../../fuse/codec.js';

export interface Exchange {
  /** Unique within the worker: completions of async I/O find their exchange by it. */
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

/** What dispatch returns when the reply will be sent later through `owner.send`. */
export const PENDING = -1;

/** What a transport serves requests with (the file system, fs/mirror.ts). */
export interface Handler {
  /** Serves one exchange: returns the reply length, 0 for no reply, or PENDING. */
  dispatch(x: Exchange): number;
  /**
   * Called after each dispatch, once its reply (if any) is sent: work that
   * must not delay the reply. The exchange may be reused right after.
   */
  afterReply(): void;
}

export interface Transport {
  readonly name: string;
  /** Start serving; resolves when the connection ends (unmount) or `stop` is called. */
  serve(handler: Handler): Promise<void>;
  stop(): void;
}
