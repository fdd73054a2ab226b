/**
 * Listening: binds the app to a TCP port, feeds it WebSocket upgrades, and gives back a handle
 * that stops it. Stopping the server closes forwards, terminals and open streams but leaves
 * the engine alone; whoever opened the engine closes it.
 */

import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import type { Logger } from 'pino';
import { type ApiServer, type AppDeps, createApiServer } from './app.js';
import { answerClientError } from './client-error.js';
import { formatHost, listen } from './listen.js';
import { createLogger } from './logging.js';
import type { HttpMount } from './mounts.js';
import { ackRequestsAtOnce } from './quick-ack.js';

export interface ListenOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** How long close() waits for in-flight requests before cutting connections. Default 5000. */
  shutdownGraceMs?: number;
  logger?: Logger;
  /** Closed first on close(), while the API still answers. */
  mounts?: readonly HttpMount[];
}

export interface ServerOptions extends Omit<AppDeps, 'publicUrl'>, ListenOptions {}

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

export function startServer(options: ServerOptions): Promise<RunningServer> {
  return listenApi(options, (publicUrl) => createApiServer({ ...options, publicUrl }));
}

/**
 * Serves an API (the public one, or a node's) on a TCP port. `build` gets our own base URL,
 * read per request: the real port is known only once listen() has returned.
 */
export async function listenApi(
  options: ListenOptions,
  build: (publicUrl: () => string | undefined) => ApiServer,
): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const requestedPort = options.port ?? 8080;
  let publicUrl: string | undefined;
  const api = build(() => publicUrl);
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
