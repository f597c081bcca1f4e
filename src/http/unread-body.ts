import type { Middleware } from 'koa';

/** More than this is not worth reading to keep a connection: the socket is closed instead. */
const maxDiscardBytes = 16 * 1024 * 1024;

/**
 * A request body the handler stopped reading (over the size limit, say) is read to its end and thrown away once the
 * answer is decided, so that the client's next request on the same keep-alive connection is parsed and answered.
 * Without it a chunked body cut off at the limit stays paused, and the next request on that connection never gets
 * an answer. Node does the same for a body nobody started to read; a body declared larger than the discard limit is
 * answered with `Connection: close` instead, and one that turns out larger closes the socket.
 */
export function createUnreadBodyDrain(): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } finally {
      const { req } = ctx;
      if (!req.complete && !req.destroyed) {
        if (Number(req.headers['content-length'] ?? 0) > maxDiscardBytes) {
          ctx.set('Connection', 'close');
        } else {
          let discarded = 0;
          // A decoder (gzip) the body was piped into may hold it paused: take the body back, then let it flow.
          req.unpipe();
          req.removeAllListeners('data');
          req.on('data', (chunk: Buffer) => {
            discarded += chunk.length;
            if (discarded > maxDiscardBytes) req.socket.destroy();
          });
          req.resume();
        }
      }
    }
  };
}
