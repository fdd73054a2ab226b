/**
 * Reads the request body fully, but never more than `maxBytes` of it: larger bodies are
 * refused with 413 body_too_large (wire-v1.md section 3) before the rest is buffered. The bytes
 * are left in `c.var.rawBody` for the JSON reader.
 *
 * Under the node server the body is read straight off the IncomingMessage: going through the
 * fetch Request made hono's adapter build an undici Request, its Headers and a web stream
 * around the socket on every exec, which is most of what the server spends on a small POST.
 */
import type { IncomingMessage } from 'node:http';
import { MitosError } from '@mitos/protocol';
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env.js';
import { timeAsync } from '../server-timing.js';

export function bodyLimit(maxBytes: number): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set('rawBody', await timeAsync(c, 'parse', readRequestBody(c, maxBytes)));
    await next();
  };
}

/** The whole body of the context's request, from the node request when nothing read it yet. */
export function readRequestBody(c: Context<AppEnv>, maxBytes: number): Promise<Uint8Array> {
  const incoming = c.env?.incoming;
  if (incoming && unread(incoming)) return readIncomingWithin(incoming, maxBytes);
  return readBodyWithin(c.req.raw, maxBytes);
}

/**
 * Nobody has read from it: a peek through the fetch Request (auth in token mode) pulls the
 * body into a web stream, and then only that stream has it.
 */
function unread(incoming: IncomingMessage): boolean {
  return !incoming.readableDidRead && !incoming.readableEnded && incoming.listenerCount('data') === 0;
}

/**
 * The whole body of `request`, or 413 body_too_large as soon as its declared length or the
 * bytes read so far pass `maxBytes`. With `peek`, a clone is read and the request keeps its body.
 */
export async function readBodyWithin(request: Request, maxBytes: number, { peek = false } = {}): Promise<Uint8Array> {
  const declared = Number(request.headers.get('Content-Length'));
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  return readBounded((peek ? request.clone() : request).body, maxBytes);
}

async function readBounded(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array> {
  if (body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      // Chunked uploads have no Content-Length, so the limit is also enforced while reading.
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

/**
 * As readBodyWithin, on the node request itself. Past the limit it stops reading (the adapter
 * drains or drops the rest once the 413 is out); a client that goes away mid-body is an error.
 */
function readIncomingWithin(incoming: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(incoming.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(tooLarge(maxBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const finish = (err?: Error) => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', finish);
      incoming.off('close', onClose);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, total));
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) {
        incoming.pause();
        finish(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onClose = () => {
      if (!incoming.complete) finish(new MitosError('canceled', 'the client went away while sending the request body'));
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', finish);
    incoming.on('close', onClose);
  });
}

function tooLarge(maxBytes: number): MitosError {
  return new MitosError('body_too_large', `request body exceeds ${maxBytes} bytes`, { max_bytes: maxBytes });
}
