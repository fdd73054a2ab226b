import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeEngine } from '@mitos/testkit';
import { captureLogger } from '@mitos/testkit/server';
import Database from 'better-sqlite3';
import { type RunningServer, startServer } from './server.js';

describe('startServer over real HTTP', () => {
  const engine = new FakeEngine();
  const db = new Database(':memory:');
  const KEY = 'http-test-key-0d9e';
  let server: RunningServer;

  before(async () => {
    await engine.ensureTemplate({ id: 'python' });
    server = await startServer({ engine, db, port: 0, apiKeys: [KEY], logger: captureLogger().logger, version: 't' });
  });
  after(async () => {
    await server.close();
    db.close();
  });

  const auth = { Authorization: `Bearer ${KEY}` };

  it('listens on 127.0.0.1 on an ephemeral port', () => {
    assert.ok(server.port > 0);
    assert.equal(server.url, `http://127.0.0.1:${server.port}`);
  });

  it('serves health with the key and 401 without it', async () => {
    assert.equal((await fetch(`${server.url}/v1/health`)).status, 401);
    const res = await fetch(`${server.url}/v1/health`, { headers: auth });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { status: string }).status, 'ok');
  });

  it('reports its own base URL as the fork endpoint', async () => {
    const res = await fetch(`${server.url}/v1/fork`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json', 'Idempotency-Key': 'http-1' },
      body: JSON.stringify({ template: 'python', id: 'sb-http' }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { endpoint: string; id: string };
    assert.equal(body.endpoint, server.url);
    assert.equal(body.id, 'sb-http');
  });

  it('refuses an oversize body with 413 before reading all of it', async () => {
    const res = await fetch(`${server.url}/v1/files/write`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: `{"sandbox":"sb-http","path":"/x","content":"${'a'.repeat(33 * 1024 * 1024)}"}`,
    });
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'body_too_large');
  });

  it('answers 405 with Allow over the wire', async () => {
    const res = await fetch(`${server.url}/v1/exec`, { headers: auth });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    await res.body?.cancel();
  });

  it('fails to start on a port in use', async () => {
    await assert.rejects(startServer({ engine, db, port: server.port, logger: captureLogger().logger }), {
      code: 'EADDRINUSE',
    });
  });

  it('close() is idempotent', async () => {
    const other = await startServer({ engine, db, port: 0, logger: captureLogger().logger });
    await Promise.all([other.close(), other.close()]);
    await assert.rejects(fetch(`${other.url}/v1/health`));
  });
});

describe('startServer on a wildcard address', () => {
  it('reports a loopback URL and uses each request origin as the endpoint', async () => {
    const engine = new FakeEngine();
    await engine.ensureTemplate({ id: 'python' });
    const db = new Database(':memory:');
    const server = await startServer({ engine, db, host: '0.0.0.0', port: 0, logger: captureLogger().logger });
    try {
      assert.equal(server.url, `http://127.0.0.1:${server.port}`);
      const res = await fetch(`http://localhost:${server.port}/v1/fork`, {
        method: 'POST',
        body: JSON.stringify({ template: 'python', id: 'sb-1' }),
      });
      assert.equal(((await res.json()) as { endpoint: string }).endpoint, `http://localhost:${server.port}`);
    } finally {
      await server.close();
      db.close();
    }
  });
});
