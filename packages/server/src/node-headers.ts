/**
 * Request and response headers through node's own request and response when the app runs
 * under the node server. The first `c.req.header()` of a request makes hono's adapter build an
 * undici Headers from every field of the request, and `c.res.headers.set()` turns the answer's
 * plain header object into another Headers (and back again before writeHead): together more
 * work than the rest of the middleware a small exec passes through. Under `app.request()` (no
 * node request) both fall back to hono's own.
 */
import type { Context } from 'hono';
import type { AppEnv } from './env.js';

/**
 * The request header `name` as `Headers#get` gives it: every field of that name, joined with
 * ', ' in the order sent; undefined when there is none.
 */
export function requestHeader(c: Context<AppEnv>, name: string): string | undefined {
  const raw = c.env?.incoming?.rawHeaders;
  if (raw === undefined) return c.req.header(name);
  const wanted = name.toLowerCase();
  let value: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const field = raw[i] as string;
    if (field.length !== wanted.length || field.toLowerCase() !== wanted) continue;
    value = value === undefined ? raw[i + 1] : `${value}, ${raw[i + 1]}`;
  }
  return value;
}

/**
 * Sets a header on the answer: on node's response while its head is unwritten (the adapter's
 * writeHead merges it with the answer's own headers, which win on a clash), else on `c.res`.
 * Throws as `Headers#set` does on an immutable (proxied) answer.
 */
export function setResponseHeader(c: Context<AppEnv>, name: string, value: string): void {
  const outgoing = c.env?.outgoing;
  if (outgoing !== undefined && typeof outgoing.setHeader === 'function' && !outgoing.headersSent) {
    outgoing.setHeader(name, value);
    return;
  }
  c.res.headers.set(name, value);
}
