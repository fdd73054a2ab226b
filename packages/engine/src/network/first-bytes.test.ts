import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { connect } from 'node:tls';
import { readFirstBytes } from './first-bytes.js';

/** The first bytes Node's own TLS client sends (a real ClientHello), as a server reads them. */
async function clientHello(options: { servername?: string }): Promise<Buffer> {
  const server = createServer();
  const got = new Promise<Buffer>((resolve) => {
    server.on('connection', (socket) => {
      let buf = Buffer.alloc(0);
      socket.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (readFirstBytes(buf).kind !== 'more') {
          resolve(buf);
          socket.destroy();
        }
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const client = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
  client.on('error', () => {});
  try {
    return await got;
  } finally {
    client.destroy();
    server.close();
  }
}

test('a real ClientHello: its server name, or none', async () => {
  const named = await clientHello({ servername: 'One.Shared.Test' });
  assert.deepEqual(readFirstBytes(named), { kind: 'tls', name: 'one.shared.test' });
  assert.deepEqual(readFirstBytes(await clientHello({})), { kind: 'tls', name: undefined });
  // Split anywhere, it waits for the rest; cut into records of its own, it still reads.
  for (const at of [1, 5, 40, named.length - 1])
    assert.deepEqual(readFirstBytes(named.subarray(0, at)), { kind: 'more' });
  const body = named.subarray(5);
  const half = Math.floor(body.length / 2);
  const record = (b: Buffer) => Buffer.concat([Buffer.from([0x16, 3, 1, b.length >> 8, b.length & 255]), b]);
  const fragmented = Buffer.concat([record(body.subarray(0, half)), record(body.subarray(half))]);
  assert.deepEqual(readFirstBytes(fragmented), { kind: 'tls', name: 'one.shared.test' });
});

test('malformed TLS and other protocols name nothing', () => {
  assert.deepEqual(readFirstBytes(Buffer.from([0x16, 3, 1, 0, 4, 2, 0, 0, 0])), { kind: 'unknown' }); // not a ClientHello
  assert.deepEqual(readFirstBytes(Buffer.from([0x16, 3, 1, 0, 6, 1, 0, 0, 2, 3, 3])), { kind: 'unknown' }); // truncated
  assert.deepEqual(readFirstBytes(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n')), { kind: 'unknown' });
  assert.deepEqual(readFirstBytes(Buffer.alloc(17_000, 0x16)), { kind: 'unknown' });
});

test('plain HTTP: the one Host header, without its port', () => {
  const req = (headers: string) => Buffer.from(`GET / HTTP/1.1\r\n${headers}\r\n`);
  assert.deepEqual(readFirstBytes(req('Host: Allowed.Test:8080\r\n')), { kind: 'http', name: 'allowed.test' });
  assert.deepEqual(readFirstBytes(req('host:allowed.test\r\n')), { kind: 'http', name: 'allowed.test' });
  assert.deepEqual(readFirstBytes(req('Accept: */*\r\n')), { kind: 'http', name: undefined });
  // Two Host headers: which one a server honours is its own choice, so neither counts.
  assert.deepEqual(readFirstBytes(req('Host: allowed.test\r\nHost: other.test\r\n')), {
    kind: 'http',
    name: undefined,
  });
  assert.deepEqual(readFirstBytes(req('Host: [::1]:80\r\n')), { kind: 'http', name: undefined });
  assert.deepEqual(readFirstBytes(Buffer.from('GET / HTTP/1.1\r\nHost: a')), { kind: 'more' });
  assert.deepEqual(readFirstBytes(Buffer.from('GE')), { kind: 'more' });
});
