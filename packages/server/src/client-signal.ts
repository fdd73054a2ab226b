/**
 * An AbortSignal that fires when the client goes away before its response is finished. Under
 * the node server it listens on the response itself, as hono's adapter does: reaching for
 * `c.req.raw.signal` there makes the adapter build a whole fetch Request (headers, body stream,
 * AbortController) for one signal, on every exec. Elsewhere (`app.request()` in tests, an
 * upgrade) it is the request's own signal.
 */
import type { Context } from 'hono';
import type { AppEnv } from './env.js';

export function clientSignal(c: Context<AppEnv>): AbortSignal {
  const outgoing = c.env?.outgoing;
  if (!outgoing || typeof outgoing.once !== 'function') return c.req.raw.signal;
  const gone = new AbortController();
  if (outgoing.destroyed && !outgoing.writableFinished) {
    gone.abort(new Error('the client connection closed before the response was finished'));
    return gone.signal;
  }
  // 'close' comes once per response, after it is finished or when the connection drops.
  outgoing.once('close', () => {
    if (!outgoing.writableFinished)
      gone.abort(new Error('the client connection closed before the response was finished'));
  });
  return gone.signal;
}
