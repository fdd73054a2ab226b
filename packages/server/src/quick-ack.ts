/**
 * Acknowledging a request's bytes at once. A keep-alive client that writes the headers and the
 * body of a POST in two sends with Nagle's algorithm on (httpx, which the seed's Python SDK
 * uses) holds the body until the headers are ACKed; Linux, having just replied on the same
 * connection, delays that ACK (up to 40 ms) hoping to piggyback it. Every such exec then took
 * ~45 ms. TCP_QUICKACK on the server's socket sends the pending ACK now; it is per socket and
 * not sticky (the next reply re-arms the delay), so it is set on every request that has a
 * body, when its headers have been read. No host-wide setting is touched.
 */

import type { IncomingMessage, Server } from 'node:http';
import { createRequire } from 'node:module';

interface QuickAckAddon {
  tcpQuickAck(fd: number): number;
}

/** Built by `npm run build` (packages/server/native); resolved from dist/ or dist-test/. */
const ADDON = '../native/build/tcp_quickack.node';

let addon: QuickAckAddon | undefined | null;
let loadError = '';

/** The addon, or the reason it is not there (not built, or does not load). */
export function loadQuickAck(): { addon: QuickAckAddon } | { error: string } {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)(ADDON) as QuickAckAddon;
    } catch (err) {
      addon = null;
      loadError = (err as Error).message;
    }
  }
  return addon === null ? { error: loadError } : { addon };
}

/**
 * Makes `server` ACK the headers of every request with a body as soon as they are read.
 * Returns why it could not (the addon is missing), or undefined when installed.
 */
export function ackRequestsAtOnce(server: Server): string | undefined {
  const loaded = loadQuickAck();
  if ('error' in loaded) return loaded.error;
  const { tcpQuickAck } = loaded.addon;
  server.prependListener('request', (req: IncomingMessage) => {
    if (!hasBody(req)) return;
    // TCP sockets on Linux expose their descriptor; anything else (a test's duplex) has none.
    const fd = (req.socket as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd === 'number' && fd >= 0) tcpQuickAck(fd);
  });
  return undefined;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}
