/**
 * The node HTTP server's 'upgrade' event, routed through the app like any request, so auth,
 * request logging, routing and error envelopes apply to upgrades too. A route that takes the
 * socket over (the terminal, the preview proxy) claims it; otherwise the route's response,
 * usually an error envelope, is written to the socket as plain HTTP and the socket is closed.
 */
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Context } from 'hono';
import type { AppBindings, AppEnv, UpgradeRequest } from './env.js';

export type AppFetch = (request: Request, env: AppBindings) => Response | Promise<Response>;

/** The upgrade a route may claim, when the request came through the upgrade handler. */
export function upgradeOf(c: Context<AppEnv>): UpgradeRequest | undefined {
  // c.env is undefined under app.request() in tests, whatever its declared type.
  return (c.env as AppBindings | undefined)?.upgrade;
}

/** What a route returns once it has claimed the socket; only the request log sees it. */
export function upgradedResponse(): Response {
  return new Response(null, { status: 200 });
}

export class UpgradeDispatcher {
  readonly #fetch: AppFetch;
  readonly #claimed = new Set<Duplex>();

  constructor(fetch: AppFetch) {
    this.#fetch = fetch;
  }

  /** For `server.on('upgrade', ...)`. */
  readonly handle = (incoming: IncomingMessage, socket: Duplex, head: Buffer): void => {
    void this.#dispatch(incoming, socket, head);
  };

  /** Cuts every claimed socket (terminals, proxied WebSockets): server shutdown. */
  closeAll(): void {
    for (const socket of this.#claimed) socket.destroy();
    this.#claimed.clear();
  }

  async #dispatch(incoming: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    let claimed = false;
    const upgrade: UpgradeRequest = {
      incoming,
      socket,
      head,
      claim: () => {
        claimed = true;
        this.#claimed.add(socket);
        socket.once('close', () => this.#claimed.delete(socket));
      },
    };
    try {
      const response = await this.#fetch(toRequest(incoming), { incoming, upgrade });
      if (!claimed) await writeResponse(socket, response);
    } catch {
      socket.destroy();
    }
  }
}

function toRequest(incoming: IncomingMessage): Request {
  const host = incoming.headers.host ?? '';
  // Only a plain host[:port] is trusted to build the URL; anything else could move the origin.
  const origin = /^[A-Za-z0-9.:[\]-]+$/.test(host) ? `http://${host}` : 'http://localhost';
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return new Request(new URL(incoming.url ?? '/', origin), { method: incoming.method ?? 'GET', headers });
}

async function writeResponse(socket: Duplex, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  const lines = [`HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ''}`];
  response.headers.forEach((value, name) => {
    if (name !== 'content-length' && name !== 'connection' && name !== 'transfer-encoding') {
      lines.push(`${name}: ${value}`);
    }
  });
  lines.push(`Content-Length: ${body.length}`, 'Connection: close');
  socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), body]));
}
