/**
 * Listening: binds the app to a TCP port, feeds it WebSocket upgrades, and gives back a handle
 * that stops it. Stopping the server closes forwards, terminals and open streams but leaves
 * the engine alone; whoever opened the engine closes it.
 */

import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { type AppDeps, createApiServer } from './app.js';
import { answerClientError } from './client-error.js';
import { formatHost, listen } from './listen.js';
import { createLogger } from './logging.js';
import { ackRequestsAtOnce } from './quick-ack.js';

export interface ServerOptions extends Omit<AppDeps, 'publicUrl'> {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** How long close() waits for in-flight requests before cutting connections. Default 5000. */
  shutdownGraceMs?: number;
}

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  /** Stops accepting connections and ends open ones; idempotent. Does not close the engine. */
  close(): Promise<void>;
}

/** Wildcard listen addresses, and the loopback address to reach each one locally. */
const LOOPBACK_FOR_WILDCARD = new Map([
  ['0.0.0.0', '127.0.0.1'],
  ['::', '::1'],
  ['', '127.0.0.1'],
]);

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const requestedPort = options.port ?? 8080;
  let publicUrl: string | undefined;
  // Read per request: the real port is known only once listen() has returned.
  const api = createApiServer({ ...options, publicUrl: () => publicUrl });
  const server = createAdaptorServer({ fetch: api.app.fetch, hostname: host }) as Server;
  server.on('upgrade', api.handleUpgrade);
  server.on('clientError', answerClientError);
  const noQuickAck = ackRequestsAtOnce(server);
  if (noQuickAck !== undefined) {
    (options.logger ?? createLogger()).warn(
      { cause: noQuickAck },
      'TCP quick-ACK addon not loaded: clients that send headers and body apart (httpx) wait ~40 ms per request; run `npm run build`',
    );
  }
  let port: number;
  try {
    port = await listen(server, host, requestedPort);
  } catch (err) {
    api.close();
    throw err;
  }
  const url = `http://${formatHost(LOOPBACK_FOR_WILDCARD.get(host) ?? host)}:${port}`;
  // On a wildcard address there is no single right answer, so each request's own origin is used.
  publicUrl = LOOPBACK_FOR_WILDCARD.has(host) ? undefined : url;
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    close: () => {
      if (closing === undefined) {
        // Upgraded sockets and stream bodies would hold server.close() open until the grace ran out.
        const finish = () => {
          api.close();
          return stop(server, options.shutdownGraceMs ?? 5000);
        };
        const mounts = options.mounts ?? [];
        // Mounts first, while the API still answers: an MCP session ends by terminating its
        // sandboxes through it.
        closing = mounts.length === 0 ? finish() : Promise.allSettled(mounts.map((m) => m.close?.())).then(finish);
      }
      return closing;
    },
  };
}

function stop(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    force.unref();
    server.close((err) => {
      clearTimeout(force);
      if (err) reject(err);
      else resolve();
    });
    server.closeIdleConnections();
  });
}
