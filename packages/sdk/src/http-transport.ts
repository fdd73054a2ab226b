/**
 * Requests over node's own HTTP client, on keep-alive connections shared by every client in
 * the process: a whole answer for the JSON calls, a response to read as it arrives for the
 * streams. Not fetch: undici's fetch builds a Request, a Response, Headers and web streams for
 * every call, which cost more than the server's whole share of a small exec, and loading
 * undici at all is a large part of a short-lived process's (`mitos run`'s) start-up.
 * @module
 */
import { type ClientRequest, Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface RawRequest {
  method: string;
  headers: Record<string, string>;
  body: string | Uint8Array | undefined;
  signal: AbortSignal | undefined;
}

export interface RawResponse {
  status: number;
  text: string;
}

/** Idle sockets are unref'd by the agent, so a kept-alive connection never holds a process open. */
const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
const utf8 = new TextDecoder();

/**
 * The Fetch standard's "bad ports", which fetch refuses before connecting. Every call refuses
 * them the same way, as when this SDK used fetch, so a server on one fails alike on every call
 * and in every client rather than answering some.
 */
const BAD_PORTS = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110,
  111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532,
  540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061,
  6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/**
 * Sends `body` and reads the whole answer as text. Any failure is thrown as node reports it,
 * or as the signal's reason.
 */
export function sendRequest(url: URL, request: RawRequest): Promise<RawResponse> {
  return withStaleRetry(url, request, sendOnce);
}

/**
 * Sends the request and resolves with the response once its head arrived; the body is the
 * caller's to read. Until the body ends, an abort of `signal` destroys the request, so a read
 * in progress fails and the server sees the connection drop.
 */
export function openStream(url: URL, request: RawRequest): Promise<IncomingMessage> {
  return withStaleRetry(url, request, openOnce);
}

/**
 * A connection the server closed while it sat idle in the pool (it never saw this request) is
 * retried once on a new one, as node's docs advise.
 */
async function withStaleRetry<T>(
  url: URL,
  request: RawRequest,
  once: (url: URL, request: RawRequest) => Promise<T>,
): Promise<T> {
  // The same error fetch gives (transport-error.ts's blockedPort recognises it).
  if (url.port !== '' && BAD_PORTS.has(Number(url.port)))
    throw new TypeError('fetch failed', { cause: new Error('bad port') });
  for (let attempt = 0; ; attempt++) {
    try {
      return await once(url, request);
    } catch (err) {
      if (attempt === 0 && (err as { staleSocket?: boolean }).staleSocket && !request.signal?.aborted) continue;
      throw err;
    }
  }
}

function sendOnce(url: URL, request: RawRequest): Promise<RawResponse> {
  return openOnce(url, request).then(
    (res) =>
      new Promise<RawResponse>((resolve, reject) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: utf8.decode(Buffer.concat(chunks)) }));
        const fail = (err: Error) => reject(request.signal?.aborted ? abortReason(request.signal) : err);
        res.on('error', fail);
        res.on('close', () => {
          if (!res.complete) fail(midAnswerClose());
        });
      }),
  );
}

function openOnce(url: URL, { method, headers, body, signal }: RawRequest): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === 'https:';
    const send = https ? httpsRequest : httpRequest;
    const length = body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    let answered = false;
    let req: ClientRequest | undefined;
    const unwatch = () => signal?.removeEventListener('abort', onAbort);
    const onAbort = () => {
      unwatch();
      // Before the head this rejects; after it, the body's reader sees the destroyed stream.
      // No error is passed to destroy: once the response has its socket, an error given here
      // would be emitted on that socket with no listener left to take it.
      req?.destroy();
      if (!answered) reject(abortReason(signal));
    };
    req = send(url, {
      method,
      agent: https ? agents.https : agents.http,
      headers: body === undefined && method === 'GET' ? headers : { ...headers, 'content-length': String(length) },
    });
    // Stays attached for the request's whole life: a socket error after the head reaches the
    // body's reader as its own error, and an unlistened 'error' would crash the process.
    req.on('error', (err: Error) => {
      if (answered) return;
      unwatch();
      // Node's documented case: a reused keep-alive socket the server had already closed.
      const stale = req?.reusedSocket === true && isResetBeforeAnswer(err);
      reject(stale ? Object.assign(err, { staleSocket: true }) : err);
    });
    req.on('response', (res: IncomingMessage) => {
      answered = true;
      // A finished body needs no abort: destroying its request would drop a pooled socket.
      res.once('end', unwatch);
      res.once('close', unwatch);
      resolve(res);
    });
    if (signal) {
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
    }
    req.end(body);
  });
}

function abortReason(signal: AbortSignal | undefined): Error {
  return signal?.reason instanceof Error ? signal.reason : new Error(String(signal?.reason));
}

function midAnswerClose(): Error {
  return new Error('the server closed the connection in the middle of the answer');
}

function isResetBeforeAnswer(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED';
}
