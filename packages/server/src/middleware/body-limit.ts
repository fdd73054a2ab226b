/**
 * Reads the request body fully, but never more than `maxBytes` of it: larger bodies are
 * refused with 413 body_too_large (wire-v1.md section 3) before the rest is buffered. The bytes
 * are left in `c.var.rawBody` for the JSON reader.
 */
import { MitosError } from '@mitos/protocol';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env.js';
import { timeAsync } from '../server-timing.js';

export function bodyLimit(maxBytes: number): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set('rawBody', await timeAsync(c, 'parse', readBodyWithin(c.req.raw, maxBytes)));
    await next();
  };
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

function tooLarge(maxBytes: number): MitosError {
  return new MitosError('body_too_large', `request body exceeds ${maxBytes} bytes`, { max_bytes: maxBytes });
}
