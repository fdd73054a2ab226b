/**
 * The Connect wire (sandbox.v1.Sandbox and its terminal WebSocket) under attack, against the
 * real server: another tenant's sandbox named in X-Sandbox-Id or ?sandbox=, missing keys on
 * every method, malformed and oversized envelopes, and archives built to escape the sandbox
 * when extracted. The server must refuse cleanly, stay healthy, and leave nothing behind.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openDatabase } from '@mitos/engine';
import { create, type Sandbox as SdkSandbox } from '@mitos/sdk';
import { type RunningServer, startServer } from '@mitos/server';
import { CONNECT_WS_SUBPROTOCOL, Sandbox } from '@mitos/server/connect';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { Recorder } from './figures.js';
import { send } from './http.js';
import { type LiveServer, liveServer, stopAndCheck } from './live.js';
import { sandboxTokens } from './tokens.js';

const rec = new Recorder('connect', 'The Connect wire (sandbox.v1) under attack', 8);
const API_KEY = `connect-key-${randomBytes(16).toString('hex')}`;
const { tokenFor, verifier } = sandboxTokens();

function envelope(payload: Buffer | string, flags = 0, declared?: number): Buffer {
  const body = Buffer.from(payload);
  const header = Buffer.alloc(5);
  header[0] = flags;
  header.writeUInt32BE(declared ?? body.length, 1);
  return Buffer.concat([header, body]);
}

const json = (value: unknown) => envelope(JSON.stringify(value));

describe('the Connect wire holds under attack', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let tokenServer: RunningServer;
  let a: SdkSandbox;
  let b: SdkSandbox;
  const keyed = (extra: Record<string, string> = {}) => ({ Authorization: `Bearer ${API_KEY}`, ...extra });

  before(async () => {
    live = await liveServer({ apiKeys: [API_KEY] });
    a = await create('python', { baseUrl: live.url, apiKey: API_KEY });
    b = await create('python', { baseUrl: live.url, apiKey: API_KEY });
    tokenServer = await startServer({
      engine: live.engine,
      db: openDatabase(join(live.env.stateDir, 'tokens.db')),
      port: 0,
      apiKeys: [API_KEY],
      sandboxTokens: verifier,
      logger: pino({ level: 'debug' }, { write: (line: string) => void live.logs.push(line) }),
    });
  });

  after(async () => {
    await tokenServer.close();
    await stopAndCheck(live, rec, [API_KEY, tokenFor(a.id), tokenFor(b.id)]);
  });

  test('every method refuses a missing or wrong key, in Connect shape', async () => {
    for (const method of Sandbox.methods) {
      for (const auth of [{}, { Authorization: 'Bearer wrong-key-123' }] as Array<Record<string, string>>) {
        const res = await send(live.url, {
          method: 'POST',
          path: `/sandbox.v1.Sandbox/${method.name}`,
          headers: { 'Content-Type': 'application/json', 'X-Sandbox-Id': a.id, ...auth },
          body: '{}',
        });
        rec.count('attacks');
        assert.equal(res.status, 401, method.name);
        assert.equal(JSON.parse(res.body).code, 'unauthenticated');
      }
    }
    rec.check('all 22 methods without a valid key', '401 unauthenticated');
  });

  test("a sandbox token never opens another tenant's sandbox, by header or by query", async () => {
    const cases: Array<[string, Record<string, string>]> = [
      ['token of a, header b', { 'X-Sandbox-Id': b.id, Authorization: `Bearer ${tokenFor(a.id)}` }],
      ['token of a, no header', { Authorization: `Bearer ${tokenFor(a.id)}` }],
      ['api key, header b', { 'X-Sandbox-Id': b.id, Authorization: `Bearer ${API_KEY}` }],
    ];
    for (const [name, headers] of cases) {
      const res = await send(tokenServer.url, {
        method: 'POST',
        path: '/sandbox.v1.Sandbox/ExecStream',
        headers: { 'Content-Type': 'application/connect+json', ...headers },
        body: json({ command: 'touch /workspace/pwned' }),
      });
      rec.count('attacks');
      assert.ok(res.status === 401 || (res.status === 200 && res.body.includes('invalid_argument')), name);
    }
    const ws = new WebSocket(
      `${tokenServer.url.replace('http', 'ws')}/sandbox.v1.Sandbox/Exec?sandbox=${b.id}`,
      [CONNECT_WS_SUBPROTOCOL],
      { headers: { Authorization: `Bearer ${tokenFor(a.id)}` } },
    );
    ws.on('error', () => {});
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
    ws.terminate();
    rec.count('attacks');
    assert.equal(res.statusCode, 401);
    assert.equal((await b.exec('test -e /workspace/pwned; echo $?')).stdout, '1\n');
    const own = await send(tokenServer.url, {
      method: 'POST',
      path: '/sandbox.v1.Sandbox/Mkdir',
      headers: { 'Content-Type': 'application/json', 'X-Sandbox-Id': a.id, Authorization: `Bearer ${tokenFor(a.id)}` },
      body: '{"path":"/workspace/mine"}',
    });
    assert.equal(own.status, 200);
    rec.check('token of one sandbox naming another (header, query, WebSocket)', '401, nothing ran');
  });

  test('malformed and oversized envelopes are refused and the server stays up', async () => {
    const bodies: Array<[string, Buffer]> = [
      ['length past the body', envelope('{}', 0, 1_000)],
      ['declared 4 GiB', envelope('{}', 0, 0xffffffff)],
      ['compressed flag', envelope('{}', 1)],
      ['not JSON', envelope('{"command":')],
      ['wrong types', json({ command: 12, timeoutSeconds: 'x' })],
      ['truncated header', Buffer.from([0, 0, 0])],
    ];
    for (const [name, body] of bodies) {
      const res = await send(live.url, {
        method: 'POST',
        path: '/sandbox.v1.Sandbox/ExecStream',
        headers: keyed({ 'Content-Type': 'application/connect+json', 'X-Sandbox-Id': a.id }),
        body,
      });
      rec.count('attacks');
      assert.notEqual(res.status, 500, name);
      assert.ok(res.status !== 200 || res.body.includes('"error"'), name);
    }
    // Past the per-call limit in many small messages: refused, nothing written.
    const chunk = json({ data: Buffer.alloc(1024 * 1024).toString('base64') });
    const many = Buffer.concat([
      json({ open: { path: '/workspace/huge' } }),
      ...Array.from({ length: 40 }, () => chunk),
    ]);
    const huge = await send(live.url, {
      method: 'POST',
      path: '/sandbox.v1.Sandbox/WriteFile',
      headers: keyed({ 'Content-Type': 'application/connect+json', 'X-Sandbox-Id': a.id }),
      body: many,
      chunked: 256 * 1024,
    });
    rec.count('attacks');
    assert.match(huge.body, /body_too_large/);
    assert.equal((await a.exec('test -e /workspace/huge; echo $?')).stdout, '1\n');
    const health = await send(live.url, { method: 'GET', path: '/v1/health', headers: keyed() });
    assert.equal(health.status, 200);
    rec.check('malformed envelopes, a 40 MiB WriteFile stream', 'refused without a 500; server healthy');
  });

  test('an archive built to escape writes nothing outside the sandbox', async () => {
    const marker = `mitos-test-escape-${randomBytes(6).toString('hex')}`;
    // Built inside the sandbox: absolute names, ../ names, and a symlink to / then a file through it.
    const made = await a.exec(
      `set -e; mkdir -p /tmp/e && cd /tmp/e && printf x > f && ln -s / root && ` +
        `tar -cf /tmp/e.tar -P --transform 's,^f$,/tmp/${marker}-abs,' f && ` +
        `tar -rf /tmp/e.tar -P --transform 's,^f$,../../../../tmp/${marker}-dots,' f && ` +
        `tar -rf /tmp/e.tar root && tar -rf /tmp/e.tar -P --transform 's,^f$,root/tmp/${marker}-link,' f && base64 -w0 /tmp/e.tar`,
    );
    assert.equal(made.exitCode, 0, made.stderr);
    const tar = Buffer.from(made.stdout, 'base64');
    const res = await send(live.url, {
      method: 'POST',
      path: '/sandbox.v1.Sandbox/Upload',
      headers: keyed({ 'Content-Type': 'application/connect+json', 'X-Sandbox-Id': a.id }),
      body: Buffer.concat([json({ open: { dest: '/workspace/in' } }), json({ chunk: tar.toString('base64') })]),
    });
    rec.count('attacks');
    assert.equal(res.status, 200);
    for (const suffix of ['abs', 'dots', 'link']) {
      assert.ok(!existsSync(`/tmp/${marker}-${suffix}`), `host /tmp/${marker}-${suffix}`);
      assert.ok(!existsSync(join(live.env.stateDir, `${marker}-${suffix}`)));
    }
    rec.check('tar with absolute, ../ and symlinked member names', 'host untouched (extracted by the sandbox tar)');
  });

  test('the terminal socket drops oversized and non-binary messages', async () => {
    const url = `${live.url.replace('http', 'ws')}/sandbox.v1.Sandbox/Exec?sandbox=${a.id}`;
    const big = new WebSocket(url, [CONNECT_WS_SUBPROTOCOL], { headers: keyed() });
    await once(big, 'open');
    big.send(envelope(Buffer.alloc(2 * 1024 * 1024, 0x61)));
    const [bigCode] = await once(big, 'close');
    assert.equal(bigCode, 1009);
    const text = new WebSocket(url, [CONNECT_WS_SUBPROTOCOL], { headers: keyed() });
    await once(text, 'open');
    text.send('{"open":{}}');
    const [textCode] = await once(text, 'close');
    assert.equal(textCode, 1011);
    rec.count('attacks', 2);
    assert.equal((await a.exec('echo alive')).stdout, 'alive\n');
    rec.check('2 MiB and text messages on the terminal socket', 'closed 1009 / 1011; sandbox fine');
  });
});
