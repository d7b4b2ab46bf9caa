// A transport moves requests from the kernel to the file system and replies
// back, as Exchanges (src/fuse/exchange.ts). Each transport owns its buffers
// and waits through the worker's own event loop: no thread per request, no
// busy polling.
import type { Handler } from '../fuse/exchange.js';

export interface Transport {
  readonly name: string;
  /** Start serving; resolves when the connection ends (unmount) or `stop` is called. */
  serve(handler: Handler): Promise<void>;
  stop(): void;
}
