import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { constants } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { FakeEngine } from '@mitos/testkit';
import { captureLogger } from '@mitos/testkit/server';
import Database from 'better-sqlite3';
import { loadQuickAck } from './quick-ack.js';
import { type RunningServer, startServer } from './server.js';

function fdOf(socket: Socket): number {
  return (socket as unknown as { _handle: { fd: number } })._handle.fd;
}

describe('TCP quick-ACK addon', () => {
  it('is built and loads', () => {
    const loaded = loadQuickAck();
    assert.ok('addon' in loaded, `the addon must load: ${'error' in loaded ? loaded.error : ''}`);
  });

  it('sets TCP_QUICKACK on a TCP socket and reports errno for anything else', async () => {
    const loaded = loadQuickAck();
    assert.ok('addon' in loaded);
    const listener = createServer((s) => {
      assert.equal(loaded.addon.tcpQuickAck(fdOf(s)), 0);
      s.end();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as { port: number }).port;
    const client = connect(port, '127.0.0.1');
    await new Promise((resolve) => client.on('close', resolve).resume());
    listener.close();
    const file = openSync(process.execPath, 'r');
    try {
      assert.equal(loaded.addon.tcpQuickAck(file), constants.errno.ENOTSOCK);
    } finally {
      closeSync(file);
    }
    assert.throws(() => loaded.addon.tcpQuickAck('x' as unknown as number), TypeError);
  });
});

describe('a server with the quick-ACK hook', () => {
  const engine = new FakeEngine();
  const db = new Database(':memory:');
  const captured = captureLogger();
  let server: RunningServer;

  before(async () => {
    await engine.ensureTemplate({ id: 'python' });
    await engine.create({ id: 'sb-qa', templateId: 'python' });
    server = await startServer({ engine, db, port: 0, logger: captured.logger, version: 't' });
  });
  after(async () => {
    await server.close();
    db.close();
  });

  it('logs no missing-addon warning', () => {
    assert.equal(captured.lines.filter((l) => l.includes('quick-ACK')).length, 0);
  });

  it('answers keep-alive POSTs whose headers and body arrive in separate writes', async () => {
    const socket = connect(server.port, '127.0.0.1');
    socket.setNoDelay(false); // Nagle on, as httpx leaves it
    await new Promise((resolve) => socket.once('connect', resolve));
    let received = '';
    socket.on('data', (d: Buffer) => {
      received += d.toString('utf8');
    });
    for (let i = 0; i < 3; i++) {
      const body = JSON.stringify({ sandbox: 'sb-qa', command: `echo ${i}` });
      socket.write(
        `POST /v1/exec HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      socket.write(body);
      while ((received.match(/"exit_code"/g)?.length ?? 0) <= i) await new Promise((r) => socket.once('data', r));
    }
    socket.destroy();
    assert.equal(received.match(/HTTP\/1\.1 200/g)?.length, 3);
  });
});
