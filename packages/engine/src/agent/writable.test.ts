import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { untilWritable } from './writable.js';

test('waiting for drain many times leaves no listener behind', async () => {
  const sock = new PassThrough({ highWaterMark: 4 });
  const [drain, close] = [sock.listenerCount('drain'), sock.listenerCount('close')];
  for (let i = 0; i < 50; i++) {
    assert.equal(sock.write(Buffer.alloc(16)), false);
    const waited = untilWritable(sock);
    sock.read(); // the reader takes it all: the stream drains
    await waited;
  }
  assert.equal(sock.listenerCount('drain'), drain);
  assert.equal(sock.listenerCount('close'), close);
});

test('a socket closed while waiting ends the wait, and a destroyed one does not wait', async () => {
  const sock = new PassThrough({ highWaterMark: 4 });
  sock.write(Buffer.alloc(16));
  const waited = untilWritable(sock);
  sock.destroy();
  await waited;
  assert.equal(sock.listenerCount('drain'), 0);
  await untilWritable(sock);
});
