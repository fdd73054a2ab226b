import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { inspect } from 'node:util';
import type { WebSocket } from 'ws';
import { AgentRunError, NotFoundError } from './errors.js';
import { sandboxOn, TEST_KEY } from './test-support/sandbox-handle.js';
import { envelope } from './test-support/stub-server.js';
import { frameOf, startWsStub, type WsStub } from './test-support/ws-stub.js';

let stub: WsStub;
before(async () => {
  stub = await startWsStub();
});
after(() => stub.close());
beforeEach(() => {
  stub.upgrades.length = 0;
  stub.reject = undefined;
  stub.selectProtocol = (offered) => (offered.has('mitos.pty.v1') ? 'mitos.pty.v1' : false);
});

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** Resolve with the next accepted server-side socket and every frame it receives. */
function nextSession(): Promise<{ ws: WebSocket; frames: Record<string, unknown>[]; next: () => Promise<unknown> }> {
  return new Promise((resolve) => {
    stub.onConnection = (ws) => {
      const frames: Record<string, unknown>[] = [];
      let waiter: ((f: unknown) => void) | undefined;
      ws.on('message', (data) => {
        const f = frameOf(data);
        frames.push(f);
        waiter?.(f);
        waiter = undefined;
      });
      const next = () =>
        new Promise<unknown>((r) => {
          waiter = r;
        });
      resolve({ ws, frames, next });
    };
  });
}

describe('createPty', () => {
  test('offers mitos.pty.v1, sends the key only as a bearer header, and sizes the terminal', async () => {
    const session = nextSession();
    const pty = await sandboxOn(stub.baseUrl).createPty({ cols: 120, rows: 40 });
    const { ws } = await session;
    const up = stub.upgrades[0];
    assert.equal(up?.headers['sec-websocket-protocol'], 'mitos.pty.v1');
    assert.equal(up?.headers.authorization, `Bearer ${TEST_KEY}`);
    assert.equal(up?.url, '/v1/pty?sandbox=sb-1&cols=120&rows=40');
    assert.ok(!up?.url?.includes(TEST_KEY));
    assert.ok(!inspect(pty, { showHidden: true, depth: 5 }).includes(TEST_KEY));
    ws.send(JSON.stringify({ kind: 'exit', exit_code: 0 }));
    assert.equal(await pty.wait(), 0);
  });

  test('input and resize frames go out; output reaches onData; the exit frame gives the status', async () => {
    const session = nextSession();
    const got: string[] = [];
    const pty = await sandboxOn(stub.baseUrl).createPty({ onData: (b) => got.push(Buffer.from(b).toString()) });
    const { ws, frames, next } = await session;
    let arrived = next();
    pty.sendInput('ls\n');
    await arrived;
    arrived = next();
    pty.sendInput(new Uint8Array([3]));
    await arrived;
    arrived = next();
    pty.resize(100, 30);
    await arrived;
    assert.deepEqual(frames, [
      { kind: 'input', data: b64('ls\n') },
      { kind: 'input', data: b64('\x03') },
      { kind: 'resize', cols: 100, rows: 30 },
    ]);
    ws.send(JSON.stringify({ kind: 'output', data: b64('a.txt\r\n') }));
    ws.send('not json');
    ws.send(JSON.stringify({ kind: 'mystery' }));
    ws.send(JSON.stringify({ kind: 'exit', exit_code: 3 }));
    assert.equal(await pty.wait(), 3);
    assert.equal(pty.exitCode, 3);
    assert.deepEqual(got, ['a.txt\r\n']);
    assert.throws(() => pty.sendInput('x'), { code: 'pty_closed' });
  });

  test('output sent together with the handshake (a prompt) is not lost', async () => {
    stub.onConnection = (ws) => {
      ws.send(JSON.stringify({ kind: 'output', data: b64('$ ') }));
      ws.send(JSON.stringify({ kind: 'exit', exit_code: 0 }));
    };
    const got: string[] = [];
    const pty = await sandboxOn(stub.baseUrl).createPty({ onData: (b) => got.push(Buffer.from(b).toString()) });
    assert.equal(await pty.wait(), 0);
    assert.deepEqual(got, ['$ ']);
  });

  test('an exit frame without exit_code means 0 (the seed omits it)', async () => {
    const session = nextSession();
    const pty = await sandboxOn(stub.baseUrl).createPty();
    (await session).ws.send(JSON.stringify({ kind: 'exit' }));
    assert.equal(await pty.wait(), 0);
  });

  test('a close without an exit frame gives -1', async () => {
    const session = nextSession();
    const pty = await sandboxOn(stub.baseUrl).createPty();
    (await session).ws.close(1011);
    assert.equal(await pty.wait(), -1);
  });

  test('kill() closes the socket and wait() gives -1', async () => {
    const session = nextSession();
    const pty = await sandboxOn(stub.baseUrl).createPty();
    const { ws } = await session;
    const serverSawClose = new Promise((r) => ws.once('close', r));
    pty.kill();
    assert.equal(await pty.wait(), -1);
    await serverSawClose;
  });

  test('an enveloped refusal of the upgrade becomes the typed error', async () => {
    stub.reject = { status: 404, body: JSON.stringify(envelope('not_found', `no sandbox; key ${TEST_KEY}`)) };
    await assert.rejects(sandboxOn(stub.baseUrl).createPty(), (err) => {
      assert.ok(err instanceof NotFoundError);
      assert.equal(err.status, 404);
      assert.ok(!err.message.includes(TEST_KEY));
      return true;
    });
  });

  test('a server that does not select the subprotocol is refused', async () => {
    stub.selectProtocol = () => false;
    await assert.rejects(sandboxOn(stub.baseUrl).createPty(), (err) => {
      assert.ok(err instanceof AgentRunError);
      assert.equal(err.code, 'invalid_response');
      return true;
    });
  });

  test('sizes are checked before connecting', async () => {
    await assert.rejects(sandboxOn(stub.baseUrl).createPty({ cols: 0 }), { code: 'invalid_request' });
    assert.equal(stub.upgrades.length, 0);
  });

  test('ptyUrl() is ws:// without the key', () => {
    const url = sandboxOn(stub.baseUrl).ptyUrl(90, 20);
    assert.equal(url, `${stub.baseUrl.replace('http', 'ws')}/v1/pty?sandbox=sb-1&cols=90&rows=20`);
  });
});
