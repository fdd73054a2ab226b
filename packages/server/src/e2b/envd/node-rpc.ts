/**
 * envd's Connect calls straight on node's request and response when the app runs under the
 * node server. The fetch path builds, on every call, an undici Request with its Headers, a web
 * stream around the request body and another around the streamed answer (each event of a
 * command pulled through it); the Connect handler needs none of them: it takes the request
 * body as an async iterable and gives back one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ContextValues } from '@connectrpc/connect';
import type { UniversalHandler } from '@connectrpc/connect/protocol';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';

/** Whether nothing has read the node request's body yet (then it can be handed on as it is). */
export function unreadRequest(incoming: IncomingMessage): boolean {
  return !incoming.readableDidRead && !incoming.readableEnded && incoming.listenerCount('data') === 0;
}

/** Runs the Connect call on the node request and writes its answer to the node response. */
export async function connectOverNode(
  handler: UniversalHandler,
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  contextValues: ContextValues,
): Promise<Response> {
  const header = new Headers();
  const raw = incoming.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) header.append(raw[i] as string, raw[i + 1] as string);
  // The client going away before the answer is complete ends the call (the process keeps running).
  const gone = new AbortController();
  outgoing.once('close', () => {
    if (!outgoing.writableFinished) gone.abort();
  });
  const answer = await handler({
    httpVersion: incoming.httpVersion,
    method: incoming.method ?? 'POST',
    url: `http://${incoming.headers.host ?? 'localhost'}${incoming.url ?? '/'}`,
    header,
    body: incoming,
    signal: gone.signal,
    contextValues,
  });
  const head: Record<string, string> = {};
  answer.header?.forEach((value, name) => {
    head[name] = value;
  });
  outgoing.writeHead(answer.status, head);
  if (answer.body !== undefined) {
    for await (const chunk of answer.body) {
      if (gone.signal.aborted) break;
      if (!outgoing.write(chunk)) await drained(outgoing, gone.signal);
    }
  }
  outgoing.end();
  return RESPONSE_ALREADY_SENT;
}

/** Until the response can take more, or the client is gone. */
function drained(outgoing: ServerResponse, gone: AbortSignal): Promise<void> {
  if (gone.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      outgoing.off('drain', done);
      gone.removeEventListener('abort', done);
      resolve();
    };
    outgoing.once('drain', done);
    gone.addEventListener('abort', done, { once: true });
  });
}
