/**
 * One request and its whole answer over node's own HTTP client, on keep-alive connections
 * shared by every client in the process. The JSON calls (exec above all) go this way rather
 * than through fetch: undici's fetch builds a Request, a Response, Headers and web streams
 * for every call, which cost more than the server's whole share of a small exec.
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
 * The Fetch standard's "bad ports", which fetch (so this SDK's streams) refuses before
 * connecting. The JSON calls refuse them too, so a server on one fails the same way on every
 * call instead of answering some and not others.
 */
const BAD_PORTS = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110,
  111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532,
  540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061,
  6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/**
 * Sends `body` and reads the whole answer as text. A connection the server closed while it sat
 * idle in the pool (it never saw this request) is retried once on a new one, as node's docs
 * advise; any other failure is thrown as node reports it, or as the signal's reason.
 */
export async function sendRequest(url: URL, request: RawRequest): Promise<RawResponse> {
  // The same error fetch gives (transport-error.ts's blockedPort recognises it).
  if (url.port !== '' && BAD_PORTS.has(Number(url.port)))
    throw new TypeError('fetch failed', { cause: new Error('bad port') });
  for (let attempt = 0; ; attempt++) {
    try {
      return await sendOnce(url, request);
    } catch (err) {
      if (attempt === 0 && (err as { staleSocket?: boolean }).staleSocket && !request.signal?.aborted) continue;
      throw err;
    }
  }
}

function sendOnce(url: URL, { method, headers, body, signal }: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === 'https:';
    const send = https ? httpsRequest : httpRequest;
    const length = body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    let answered = false;
    let settled = false;
    let req: ClientRequest | undefined;
    const finish = (err: Error | undefined, value?: RawResponse) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        req?.destroy();
        reject(err);
      } else resolve(value as RawResponse);
    };
    const onAbort = () => finish(signal?.reason instanceof Error ? signal.reason : new Error(String(signal?.reason)));
    req = send(url, {
      method,
      agent: https ? agents.https : agents.http,
      headers: body === undefined && method === 'GET' ? headers : { ...headers, 'content-length': String(length) },
    });
    req.on('error', (err: Error) => {
      // Node's documented case: a reused keep-alive socket the server had already closed.
      const stale = req?.reusedSocket === true && !answered && isResetBeforeAnswer(err);
      finish(stale ? Object.assign(err, { staleSocket: true }) : err);
    });
    req.on('response', (res: IncomingMessage) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, text: utf8.decode(Buffer.concat(chunks)) }));
      res.on('error', (err: Error) => finish(err));
      res.on('close', () => {
        if (!res.complete) finish(new Error('the server closed the connection in the middle of the answer'));
      });
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

function isResetBeforeAnswer(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED';
}
