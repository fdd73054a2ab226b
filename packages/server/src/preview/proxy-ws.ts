/**
 * WebSocket upgrades through the preview proxy: the handshake request is re-sent to the guest
 * server (with the rewritten path and headers) and from then on the two sockets are joined
 * byte for byte. The guest's own handshake answer, accept or refusal, reaches the client as is.
 */
import type { Duplex } from 'node:stream';
import type { UpgradeRequest } from '../env.js';
import { splice } from '../splice.js';
import { type Forwarding, type HeaderPairs, toGuestHeaders } from './headers.js';

export function relayUpgrade(upgrade: UpgradeRequest, connection: Duplex, path: string, forwarding: Forwarding): void {
  const { incoming, socket, head } = upgrade;
  const pairs: HeaderPairs = [];
  const raw = incoming.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i] as string, raw[i + 1] as string]);
  // Node's parser has already refused CR and LF in names and values, so the lines cannot be split.
  const lines = [`${incoming.method ?? 'GET'} ${path} HTTP/1.1`];
  for (const [name, value] of toGuestHeaders(pairs, forwarding, true)) lines.push(`${name}: ${value}`);
  connection.write(`${lines.join('\r\n')}\r\n\r\n`);
  if (head.length > 0) connection.write(head);
  splice(socket, connection);
}
