import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closeTiedSockets, tiedSocket } from './closed-sockets.js';
import { procAddress } from './connections.js';
import { bytesField, fields, HEADER_BYTES, varintField } from './protobuf.js';

test("procAddress reads the kernel's little-endian words, v4 and v6", () => {
  assert.deepEqual(procAddress('0100007F:1F40'), { address: '127.0.0.1', port: 8000 });
  assert.deepEqual(procAddress('0A71CB00:0050'), { address: '0.203.113.10', port: 80 });
  assert.deepEqual(procAddress('00000000000000000000000001000000:0016'), { address: '0:0:0:0:0:0:0:1', port: 22 });
});

const word = (dotted: string) => Buffer.from(dotted.split('.').map(Number)).readUInt32LE(0);

/** An inet_sk_entry as CRIU writes it (addresses as repeated plain words). */
function isk(ino: number, proto: number, state: number, from: [string, number], to: [string, number]): Buffer {
  return Buffer.concat([
    varintField(1, ino + 1000),
    varintField(2, ino),
    varintField(3, 2),
    varintField(4, proto === 6 ? 1 : 2),
    varintField(5, proto),
    varintField(6, state),
    varintField(7, from[1]),
    varintField(8, to[1]),
    varintField(9, 2),
    varintField(10, 0),
    varintField(11, word(from[0])),
    varintField(12, word(to[0])),
    bytesField(13, Buffer.alloc(0)),
    bytesField(14, Buffer.alloc(0)),
  ]);
}

function image(entries: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.alloc(HEADER_BYTES, 7)];
  for (const e of entries) {
    const size = Buffer.alloc(4);
    size.writeUInt32LE(e.length);
    parts.push(size, e);
  }
  return Buffer.concat(parts);
}

const socketEntry = (body: Buffer) => Buffer.concat([varintField(1, 4), varintField(2, 9), bytesField(4, body)]);

test('tiedSocket names connections to outside and binds to an address, not loopback or the wildcard', () => {
  assert.equal(tiedSocket(isk(11, 6, 10, ['0.0.0.0', 8000], ['0.0.0.0', 0])), undefined, 'listening on the wildcard');
  assert.equal(tiedSocket(isk(12, 6, 1, ['127.0.0.1', 8000], ['127.0.0.1', 40960])), undefined, 'loopback');
  assert.equal(
    tiedSocket(isk(13, 6, 1, ['10.0.0.2', 40961], ['203.0.113.10', 80])),
    'tcp 10.0.0.2:40961 -> 203.0.113.10:80',
  );
  assert.equal(tiedSocket(isk(14, 6, 10, ['10.0.0.2', 8001], ['0.0.0.0', 0])), 'tcp 10.0.0.2:8001 (bound)');
  assert.equal(tiedSocket(isk(21, 17, 7, ['0.0.0.0', 53], ['0.0.0.0', 0])), undefined, 'udp on the wildcard');
  assert.equal(tiedSocket(isk(22, 17, 1, ['10.0.0.2', 49152], ['8.8.8.8', 53])), 'udp 10.0.0.2:49152 -> 8.8.8.8:53');
});

test('closeTiedSockets turns each tied socket into a closed, unbound one and leaves every other entry as it was', () => {
  const pipe = Buffer.concat([varintField(1, 8), varintField(2, 3), bytesField(18, Buffer.from([8, 1]))]);
  const loopback = socketEntry(isk(12, 6, 1, ['127.0.0.1', 8000], ['127.0.0.1', 40960]));
  const out = socketEntry(isk(13, 6, 1, ['10.0.0.2', 40961], ['203.0.113.10', 80]));
  const original = image([pipe, loopback, out]);
  const { image: rewritten, closed, loopbackConnections } = closeTiedSockets(original);
  assert.deepEqual(closed, [{ inode: 13, socket: 'tcp 10.0.0.2:40961 -> 203.0.113.10:80' }]);
  assert.equal(loopbackConnections, true);
  assert.deepEqual(
    rewritten.subarray(0, HEADER_BYTES + 8 + pipe.length + loopback.length),
    original.subarray(0, HEADER_BYTES + 8 + pipe.length + loopback.length),
  );
  const last = rewritten.subarray(HEADER_BYTES + 8 + pipe.length + loopback.length + 4);
  const body = fields(last).find((f) => f.field === 4)?.bytes as Buffer;
  const value = (n: number) => fields(body).find((f) => f.field === n)?.value;
  assert.equal(value(2), 13, 'the same socket');
  assert.equal(value(6), 7, 'TCP_CLOSE');
  assert.equal(value(7), 0);
  assert.equal(value(8), 0);
  assert.equal(value(11), 0);
  assert.equal(value(12), 0);
  assert.equal(tiedSocket(body), undefined, 'nothing tied left');
  assert.deepEqual(closeTiedSockets(image([pipe, loopback])).closed, []);
  const listening = socketEntry(isk(11, 6, 10, ['0.0.0.0', 8000], ['0.0.0.0', 0]));
  assert.equal(closeTiedSockets(image([pipe, listening, out])).loopbackConnections, false, 'no connection carried');
});
