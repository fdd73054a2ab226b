import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { SandboxInfo } from '@mitos/engine';
import { gate, type LiveServer, makeTestApp, startLiveServer, withSandbox } from '@mitos/testkit/server';
import { WebSocket, WebSocketServer } from 'ws';
import { instanceNonce, PreviewSigner } from '../preview/token.js';

const SECRET = 'preview-test-secret-0123456789';
const signer = new PreviewSigner(Buffer.from(SECRET));
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

/** Plays a web app inside the sandbox: echo, server-sent events, 204, and a WebSocket echo. */
class GuestApp {
  readonly server: Server;
  port = 0;
  sseRelease = gate();
  readonly connections = new Set<import('node:net').Socket>();
  readonly #ws = new WebSocketServer({ noServer: true });

  constructor() {
    this.server = createServer((req, res) => this.#handle(req, res));
    this.server.on('connection', (socket) => {
      this.connections.add(socket);
      socket.on('close', () => this.connections.delete(socket));
    });
    this.server.on('upgrade', (req, socket, head) => {
      this.#ws.handleUpgrade(req, socket, head, (ws) => {
        ws.on('message', (data) => ws.send(`echo:${data.toString()}:${req.url}`));
      });
    });
  }

  async start(): Promise<void> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  async #handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    if (req.url?.startsWith('/sse')) {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      res.write('data: one\n\n');
      await this.sseRelease.promise;
      res.end('data: two\n\n');
      return;
    }
    if (req.url === '/nocontent') {
      res.writeHead(204).end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    res.writeHead(201, { 'Content-Type': 'application/json', 'Set-Cookie': ['a=1', 'b=2'], 'X-Guest': 'yes' });
    res.end(
      JSON.stringify({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      }),
    );
  }
}

/** The instance nonce the server binds its own preview tokens to (routes/preview.ts). */
const nonceOf = (engine: { get(id: string): SandboxInfo | undefined }, id: string): string | undefined => {
  const sb = engine.get(id);
  return sb ? instanceNonce(sb) : undefined;
};

describe('POST /v1/preview', () => {
  it('mints a path-form URL on this server, valid for the TTL', async () => {
    const t = makeTestApp({ previewSecret: SECRET, previewTtlSeconds: 600, publicUrl: 'http://127.0.0.1:8080' });
    await withSandbox(t);
    const before = Math.floor(Date.now() / 1000);
    const res = await t.call('/v1/preview', { sandbox: 'sb-1', port: 3000 });
    assert.equal(res.status, 200);
    const match = /^http:\/\/127\.0\.0\.1:8080\/preview\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\/$/.exec(res.body.url);
    assert.ok(match, res.body.url);
    assert.ok(res.body.expires_unix >= before + 600 && res.body.expires_unix <= before + 601);
    assert.deepEqual(signer.verify(match[1] as string, before), {
      sandbox: 'sb-1',
      port: 3000,
      expiresUnix: res.body.expires_unix,
      instance: instanceNonce(t.engine.get('sb-1') as SandboxInfo),
    });
  });

  it('mints the seed host form when a preview domain is set', async () => {
    const t = makeTestApp({ previewSecret: SECRET, previewDomain: 'preview-host.test' });
    await withSandbox(t, 'Sb-1');
    const res = await t.call('/v1/preview', { sandbox: 'Sb-1', port: 80 });
    assert.match(res.body.url, /^https:\/\/sb-1\.preview\.preview-host\.test\/\?token=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  });

  it('refuses bad ports with 400 and unknown sandboxes with 404', async () => {
    const t = makeTestApp({ previewSecret: SECRET });
    await withSandbox(t);
    for (const port of [0, 70_000, '80']) {
      assert.equal((await t.call('/v1/preview', { sandbox: 'sb-1', port })).status, 400);
    }
    assert.equal((await t.call('/v1/preview', { sandbox: 'ghost', port: 80 })).status, 404);
  });
});

describe('preview proxy, path form', () => {
  let live: LiveServer;
  const guest = new GuestApp();
  const KEY = 'preview-proxy-api-key';
  const base = (port = guest.port, sandbox = 'sb-1', expiresUnix = inAnHour()) =>
    `${live.url}/preview/${signer.sign({ sandbox, port, expiresUnix, instance: nonceOf(live.engine, sandbox) })}`;

  before(async () => {
    await guest.start();
    live = await startLiveServer({ previewSecret: SECRET, apiKeys: [KEY] });
  });
  after(async () => {
    await live.close();
    await guest.stop();
  });

  it('passes method, path without the prefix, query, body and headers through, without bearer auth', async () => {
    const prefix = base();
    const res = await fetch(`${prefix}/api/items?x=1&y=%20`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain', 'X-Custom': 'c' },
      body: 'payload '.repeat(10_000),
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-guest'), 'yes');
    assert.deepEqual(res.headers.getSetCookie(), ['a=1', 'b=2']);
    const seen = (await res.json()) as { method: string; url: string; headers: Record<string, string>; body: string };
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/api/items?x=1&y=%20');
    assert.equal(seen.body, 'payload '.repeat(10_000));
    assert.equal(seen.headers.host, `localhost:${guest.port}`);
    assert.equal(seen.headers['x-custom'], 'c');
    assert.equal(seen.headers['x-forwarded-prefix'], new URL(prefix).pathname);
    assert.equal(seen.headers['x-forwarded-host'], new URL(live.url).host);
    assert.equal(live.engine.connectCalls.at(-1)?.port, guest.port);
  });

  it('keeps bearer auth on the API itself', async () => {
    assert.equal((await fetch(`${live.url}/v1/health`)).status, 401);
  });

  it('delivers server-sent events one by one, without buffering', async () => {
    guest.sseRelease = gate();
    const res = await fetch(`${base()}/sse`);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    // The guest holds the second event until the first has reached us through the proxy.
    const first = await reader.read();
    assert.equal(Buffer.from(first.value as Uint8Array).toString(), 'data: one\n\n');
    guest.sseRelease.open();
    let rest = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += Buffer.from(value).toString();
    }
    assert.equal(rest, 'data: two\n\n');
  });

  it('closes the guest connection when the client goes away mid-stream', async () => {
    guest.sseRelease = gate();
    const client = new AbortController();
    const res = await fetch(`${base()}/sse`, { signal: client.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    const [socket] = [...guest.connections];
    assert.ok(socket);
    const closed = once(socket, 'close');
    client.abort();
    await closed;
    guest.sseRelease.open();
  });

  it('passes a 204 through and redirects the bare prefix to the prefix with a slash', async () => {
    assert.equal((await fetch(`${base()}/nocontent`)).status, 204);
    const prefix = base();
    const bare = await fetch(`${prefix}?q=1`, { redirect: 'manual' });
    assert.equal(bare.status, 308);
    assert.equal(bare.headers.get('location'), `${new URL(prefix).pathname}/?q=1`);
  });

  it('negative: answers 403 forbidden for a bad signature or an expired token', async () => {
    const forged = `${live.url}/preview/${new PreviewSigner(Buffer.from('some-other-secret-xx')).sign({ sandbox: 'sb-1', port: guest.port, expiresUnix: inAnHour() })}/`;
    const expired = `${base(guest.port, 'sb-1', Math.floor(Date.now() / 1000) - 1)}/`;
    for (const url of [forged, expired, `${live.url}/preview/not-a-token/`]) {
      const res = await fetch(url);
      assert.equal(res.status, 403, url);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'forbidden');
    }
  });

  it('answers 404 for a gone sandbox and when nothing listens on the port', async () => {
    const gone = await fetch(`${base(guest.port, 'ghost')}/`);
    assert.equal(gone.status, 404);
    await gone.body?.cancel();
    const closed = await fetch(`${base(1)}/`);
    assert.equal(closed.status, 404);
    const body = (await closed.json()) as { error: { code: string; context: Record<string, unknown> } };
    assert.deepEqual(body.error.context, { sandbox: 'sb-1', port: 1 });
  });

  it('relays WebSocket upgrades to the guest', async () => {
    const url = `${base().replace('http://', 'ws://')}/ws?room=1`;
    const ws = new WebSocket(url);
    await once(ws, 'open');
    ws.send('hi');
    const [reply] = await once(ws, 'message');
    assert.equal(reply.toString(), 'echo:hi:/ws?room=1');
    ws.close();
    await once(ws, 'close');
  });

  it('negative: refuses a WebSocket upgrade with a bad token before touching the guest', async () => {
    const calls = live.engine.connectCalls.length;
    const ws = new WebSocket(`${live.url.replace('http://', 'ws://')}/preview/bad.token/ws`);
    ws.on('error', () => {});
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
    assert.equal(res.statusCode, 403);
    res.resume();
    ws.terminate();
    assert.equal(live.engine.connectCalls.length, calls);
  });
});

describe('preview proxy, host form', () => {
  const guest = new GuestApp();
  before(() => guest.start());
  after(() => guest.stop());

  const request = (t: ReturnType<typeof makeTestApp>, path: string, headers: Record<string, string>) =>
    t.app.request(`http://sb-1.preview.example.test${path}`, { headers });

  it('takes the token from the query once, then from its cookie, and never passes either on', async () => {
    const t = makeTestApp({ previewSecret: SECRET, previewDomain: 'example.test', apiKeys: ['k-123456'] });
    await withSandbox(t);
    const token = signer.sign({
      sandbox: 'sb-1',
      port: guest.port,
      expiresUnix: inAnHour(),
      instance: nonceOf(t.engine, 'sb-1'),
    });
    const first = await request(t, `/page?token=${token}&a=b`, { host: 'sb-1.preview.example.test' });
    assert.equal(first.status, 201);
    const cookie = first.headers.getSetCookie().find((c) => c.startsWith('mitos_preview_token='));
    assert.ok(cookie);
    assert.match(cookie, /HttpOnly/);
    const seen = (await first.json()) as { url: string };
    assert.equal(seen.url, '/page?a=b');

    const second = await request(t, '/next', {
      host: 'sb-1.preview.example.test',
      cookie: `theme=dark; mitos_preview_token=${token}`,
    });
    assert.equal(second.status, 201);
    const seenSecond = (await second.json()) as { headers: Record<string, string> };
    assert.equal(seenSecond.headers.cookie, 'theme=dark');
    assert.equal(second.headers.getSetCookie().filter((c) => c.startsWith('mitos_preview')).length, 0);
  });

  it('negative: a token for another sandbox, or none, is 403 forbidden', async () => {
    const t = makeTestApp({ previewSecret: SECRET, previewDomain: 'example.test' });
    await withSandbox(t);
    await t.engine.create({ id: 'sb-2', templateId: 'python' });
    const forOther = signer.sign({
      sandbox: 'sb-2',
      port: guest.port,
      expiresUnix: inAnHour(),
      instance: nonceOf(t.engine, 'sb-2'),
    });
    const wrong = await request(t, `/?token=${forOther}`, { host: 'sb-1.preview.example.test' });
    assert.equal(wrong.status, 403);
    const none = await request(t, '/', { host: 'sb-1.preview.example.test' });
    assert.equal(none.status, 403);
  });

  it('leaves other hosts to the API', async () => {
    const t = makeTestApp({ previewSecret: SECRET, previewDomain: 'example.test' });
    assert.equal((await t.app.request('http://api.example.test/v1/health')).status, 200);
  });
});
