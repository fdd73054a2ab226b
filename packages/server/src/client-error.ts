/**
 * Requests node's HTTP parser rejects before any route runs (a Content-Length that lies, a
 * Transfer-Encoding it does not know, a bare LF, a NUL in a header) used to get node's default
 * `400 Bad Request` with an empty body: the one answer of the server that was not the error
 * envelope. Oversized headers keep node's 431 (no catalogue code describes them).
 */
import type { Duplex } from 'node:stream';
import { MitosError } from '@mitos/protocol';

export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  // A connection reset has no one left to answer.
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    socket.end('HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const envelope = new MitosError('invalid_json', `malformed HTTP request (${err.code ?? 'parse error'})`).toEnvelope();
  const body = JSON.stringify(envelope);
  socket.end(
    `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
