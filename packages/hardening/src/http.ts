/**
 * A deliberately low-level HTTP client for hostile requests: raw paths (no URL normalisation
 * of `..`), arbitrary bytes as bodies, chunked bodies without Content-Length, and whole raw
 * requests over a socket for what node's client refuses to send.
 */
import { request } from 'node:http';
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Send the body chunked (no Content-Length), in pieces of this many bytes. */
  chunked?: number;
}

export function send(baseUrl: string, req: RawRequest, timeoutMs = 60_000): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const body = typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
    const headers: Record<string, string> = { ...req.headers };
    if (body && !req.chunked) headers['Content-Length'] = String(body.length);
    const r = request(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.path,
        headers,
        timeout: timeoutMs,
        // A fresh connection each time: after a 413 the server closes its end, and a pooled
        // socket would make the next request fail on our side, not the server's.
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error(`timed out: ${req.method} ${req.path.slice(0, 80)}`)));
    r.on('error', (err) => {
      // The server may answer 413 and close before the whole body went out.
      if ((err as NodeJS.ErrnoException).code === 'EPIPE' || (err as NodeJS.ErrnoException).code === 'ECONNRESET') {
        resolve({ status: -1, headers: {}, body: String(err) });
      } else reject(err);
    });
    if (body && req.chunked) {
      for (let i = 0; i < body.length; i += req.chunked) r.write(body.subarray(i, i + req.chunked));
    } else if (body) r.write(body);
    r.end();
  });
}

/** Write raw bytes to the server and return the status line's code and the rest. */
export function sendRaw(baseUrl: string, bytes: Buffer, timeoutMs = 30_000): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => sock.destroy(new Error('raw request timed out')), timeoutMs);
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', (err) => {
      clearTimeout(timer);
      if (chunks.length > 0) finish();
      else reject(err);
    });
    sock.on('close', () => finish());
    let done = false;
    function finish() {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      const split = text.indexOf('\r\n\r\n');
      const head = split >= 0 ? text.slice(0, split) : text;
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? Number.NaN);
      // Only the first response: a request that desynchronised the stream may have two.
      const rest = split >= 0 ? text.slice(split + 4) : '';
      resolve({ status, headers: {}, body: Number.isFinite(length) ? rest.slice(0, length) : rest });
    }
    sock.write(bytes);
    // Half-close so a server waiting for more of a malformed request answers or hangs up.
    sock.end();
  });
}
