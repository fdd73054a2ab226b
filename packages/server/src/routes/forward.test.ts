import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type LiveServer, startLiveServer } from '@mitos/testkit/server';

/** A TCP server that answers every line with "echo:<line>", standing in for the guest's service. */
async function echoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.on('data', (data) => socket.write(`echo:${data.toString()}`));
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

interface ForwardReply {
  host: string;
  guest_port: number;
  error: { code: string; context: Record<string, unknown> };
}

async function post(url: string, body: unknown): Promise<{ status: number; body: ForwardReply }> {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as ForwardReply };
}

function roundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    socket.once('data', (data) => {
      resolve(data.toString());
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

/** Resolves when the connection is closed or refused: the forward is gone. */
function closedOrRefused(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
  });
}

describe('POST /v1/sandboxes/{id}/forward', () => {
  let live: LiveServer;
  let guest: { server: Server; port: number };

  before(async () => {
    live = await startLiveServer();
    guest = await echoServer();
  });
  after(async () => {
    await live.close();
    guest.server.close();
  });

  it('opens a loopback listener bridged to the guest port', async () => {
    const res = await post(`${live.url}/v1/sandboxes/sb-1/forward`, { guest_port: guest.port });
    assert.equal(res.status, 200);
    assert.equal(res.body.guest_port, guest.port);
    assert.match(res.body.host, /^127\.0\.0\.1:\d+$/);
    const port = Number(res.body.host.split(':')[1]);
    assert.equal(await roundTrip(port, 'ping'), 'echo:ping');
    assert.deepEqual(live.engine.connectCalls.at(-1), { sandboxId: 'sb-1', port: guest.port });
  });

  it('refuses bad ports with 400 and unknown sandboxes with 404', async () => {
    for (const guest_port of [0, 65_536, 'x']) {
      assert.equal((await post(`${live.url}/v1/sandboxes/sb-1/forward`, { guest_port })).status, 400);
    }
    assert.equal((await post(`${live.url}/v1/sandboxes/ghost/forward`, { guest_port: 80 })).status, 404);
  });

  it('closes the client connection when nothing listens on the guest port', async () => {
    const res = await post(`${live.url}/v1/sandboxes/sb-1/forward`, { guest_port: 1 });
    await closedOrRefused(Number(res.body.host.split(':')[1]));
  });

  it('allows 16 forwards per sandbox, then 429 too_many_forwards, and closes them all when the sandbox goes', async () => {
    await live.engine.create({ id: 'sb-cap', templateId: 'python' });
    const ports: number[] = [];
    for (let i = 0; i < 16; i++) {
      const res = await post(`${live.url}/v1/sandboxes/sb-cap/forward`, { guest_port: guest.port });
      assert.equal(res.status, 200);
      ports.push(Number(res.body.host.split(':')[1]));
    }
    const capped = await post(`${live.url}/v1/sandboxes/sb-cap/forward`, { guest_port: guest.port });
    assert.equal(capped.status, 429);
    assert.equal(capped.body.error.code, 'too_many_forwards');
    assert.equal(capped.body.error.context.sandbox, 'sb-cap');

    // An open bridged connection is cut too, not only the listener.
    const open = connect(ports[0] as number, '127.0.0.1');
    await once(open, 'connect');
    open.write('hi');
    await once(open, 'data');
    const cut = once(open, 'close');
    await live.engine.terminate('sb-cap');
    await cut;
    await Promise.all(ports.map(closedOrRefused));
  });
});

describe('forwards at server shutdown', () => {
  it('are closed when the server closes', async () => {
    const live = await startLiveServer();
    const guest = await echoServer();
    try {
      const res = await post(`${live.url}/v1/sandboxes/sb-1/forward`, { guest_port: guest.port });
      const port = Number(res.body.host.split(':')[1]);
      const open = connect(port, '127.0.0.1');
      await once(open, 'connect');
      const cut = once(open, 'close');
      await live.close();
      await cut;
      await closedOrRefused(port);
    } finally {
      guest.server.close();
    }
  });
});
