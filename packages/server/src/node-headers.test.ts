import assert from 'node:assert/strict';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import type { AppEnv } from './env.js';
import { requestHeader, setResponseHeader } from './node-headers.js';

/** One app for both ways in: a real node server, and `app.request()` (no node request). */
function testApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', async (c, next) => {
    await next();
    setResponseHeader(c, 'X-Set-After', 'by-middleware');
    setResponseHeader(c, 'X-Clash', 'by-middleware');
  });
  app.get('/echo', (c) =>
    c.json({ dup: requestHeader(c, 'X-Dup') ?? null, missing: requestHeader(c, 'X-None') ?? null }, 200, {
      'X-Clash': 'by-route',
    }),
  );
  return app;
}

/**
 * GET /echo with header fields exactly as given (repeats kept), over a fresh connection. With
 * fields as a list node adds no Host of its own.
 */
function get(port: number, fields: [string, string][]): Promise<{ headers: Record<string, unknown>; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/echo',
        headers: [['Host', `127.0.0.1:${port}`], ...fields].flat(),
        agent: false,
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ headers: res.headers, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('node-headers', () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createAdaptorServer({ fetch: testApp().fetch }) as Server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('reads a request header off the node request as Headers#get does: repeats joined, any case', async () => {
    const fields: [string, string][] = [
      ['x-dup', 'one'],
      ['X-DUP', 'two'],
    ];
    const { body } = await get(port, fields);
    assert.deepEqual(body, { dup: new Headers(fields).get('x-dup'), missing: null });
    assert.deepEqual(body, { dup: 'one, two', missing: null });
  });

  it("puts a middleware's header on the node response, the answer's own winning a clash", async () => {
    const { headers } = await get(port, []);
    assert.equal(headers['x-set-after'], 'by-middleware');
    assert.equal(headers['x-clash'], 'by-route');
    assert.match(String(headers['content-type']), /^application\/json/);
  });

  it('falls back to hono under app.request()', async () => {
    const res = await testApp().request('/echo', { headers: [['X-Dup', 'a']] });
    assert.deepEqual(await res.json(), { dup: 'a', missing: null });
    assert.equal(res.headers.get('X-Set-After'), 'by-middleware');
  });
});
