/**
 * One HTTP/1.1 exchange with a server inside a sandbox, over a connection the engine opened
 * into its network namespace. Bodies stream both ways without buffering, so server-sent events
 * reach the client event by event. Each exchange has its own connection, closed afterwards.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { type Duplex, Readable } from 'node:stream';
import { type Forwarding, toClientHeaders, toGuestHeaders } from './headers.js';

const NULL_BODY_STATUSES = new Set([204, 205, 304]);

export interface GuestExchange {
  connection: Duplex;
  request: Request;
  /** Path and query as the guest should see them. */
  path: string;
  forwarding: Forwarding;
}

/** Resolves with the guest's response head; rejects if the guest fails before sending one. */
export async function exchangeWithGuest({ connection, request, path, forwarding }: GuestExchange): Promise<Response> {
  const outgoing = httpRequest({
    method: request.method,
    path,
    headers: toGuestHeaders(request.headers.entries(), forwarding, false).flat(),
    // Node's ClientRequest accepts any duplex as its socket; there is no agent and no reuse.
    createConnection: () => connection as Socket,
  });
  const cancel = () => {
    outgoing.destroy();
    connection.destroy();
  };
  request.signal.addEventListener('abort', cancel, { once: true });
  const responded = new Promise<IncomingMessage>((resolve, reject) => {
    outgoing.once('response', resolve);
    outgoing.once('error', reject);
  });
  if (request.body && request.method !== 'GET' && request.method !== 'HEAD') {
    Readable.fromWeb(request.body as import('node:stream/web').ReadableStream).pipe(outgoing);
  } else {
    outgoing.end();
  }
  let incoming: IncomingMessage;
  try {
    incoming = await responded;
  } catch (err) {
    cancel();
    throw err;
  }
  incoming.once('close', () => {
    request.signal.removeEventListener('abort', cancel);
    connection.destroy();
  });
  const status = incoming.statusCode ?? 502;
  const headers = toClientHeaders(incoming.rawHeaders, forwarding.prefix !== undefined);
  if (request.method === 'HEAD' || NULL_BODY_STATUSES.has(status)) {
    incoming.resume();
    return new Response(null, { status, headers });
  }
  return new Response(Readable.toWeb(incoming) as ReadableStream<Uint8Array>, { status, headers });
}
