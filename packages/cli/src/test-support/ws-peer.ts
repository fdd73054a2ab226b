/**
 * Just enough of RFC 6455 for a server side in CLI tests (the CLI does not depend on `ws`):
 * the opening handshake, unfragmented text frames, ping and close. Test-only.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

const HANDSHAKE_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface WsPeer {
  send(text: string): void;
  close(code?: number): void;
  onMessage: (text: string) => void;
}

/** Complete the upgrade selecting `protocol` and return the peer. */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex, protocol: string): WsPeer {
  const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${HANDSHAKE_GUID}`).digest('base64');
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`,
  );
  const peer: WsPeer = {
    send: (text) => socket.write(frame(0x1, Buffer.from(text, 'utf8'))),
    close: (code = 1000) => {
      const payload = Buffer.alloc(2);
      payload.writeUInt16BE(code);
      socket.end(frame(0x8, payload));
    },
    onMessage: () => {},
  };
  let buf = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const parsed = parseFrame(buf);
      if (!parsed) return;
      buf = buf.subarray(parsed.size);
      if (parsed.opcode === 0x1) peer.onMessage(parsed.payload.toString('utf8'));
      else if (parsed.opcode === 0x9) socket.write(frame(0xa, parsed.payload));
      else if (parsed.opcode === 0x8) socket.end(frame(0x8, parsed.payload.subarray(0, 2)));
    }
  });
  socket.on('error', () => {});
  return peer;
}

function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head =
    len < 126
      ? Buffer.from([0x80 | opcode, len])
      : len < 65_536
        ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 127]), u64(len)]);
  return Buffer.concat([head, payload]);
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** One complete client frame at the start of `buf`, or undefined if more bytes are needed. */
function parseFrame(buf: Buffer): { opcode: number; payload: Buffer; size: number } | undefined {
  if (buf.length < 2) return undefined;
  const opcode = (buf[0] ?? 0) & 0x0f;
  const masked = ((buf[1] ?? 0) & 0x80) !== 0;
  let len = (buf[1] ?? 0) & 0x7f;
  let offset = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    offset = 4;
  } else if (len === 127) {
    if (buf.length < 10) return undefined;
    len = Number(buf.readBigUInt64BE(2));
    offset = 10;
  }
  const maskAt = offset;
  if (masked) offset += 4;
  if (buf.length < offset + len) return undefined;
  const payload = Buffer.from(buf.subarray(offset, offset + len));
  if (masked) for (let i = 0; i < len; i++) payload[i] = (payload[i] ?? 0) ^ (buf[maskAt + (i % 4)] ?? 0);
  return { opcode, payload, size: offset + len };
}
