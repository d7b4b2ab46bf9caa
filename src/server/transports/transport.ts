// A transport moves requests from the kernel to the file system and replies
// back. The file system side (fs/mirror.ts) only sees a Request and a Reply;
// each transport owns its buffers and the way it waits, always through the
// worker's own event loop (no thread per request, no busy polling).
import { Request, Reply } from '../../fuse/codec.js';

/** Serves one request in `req`, writing its reply into `rep`; returns the reply length or 0 for none. */
export type Dispatch = (req: Request, rep: Reply) => number;

export interface Transport {
  readonly name: string;
  /** Start serving; resolves when the connection ends (unmount) or `stop` is called. */
  serve(dispatch: Dispatch): Promise<void>;
  stop(): void;
}
