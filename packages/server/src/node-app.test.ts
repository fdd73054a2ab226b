import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeEngine } from '@mitos/testkit';
import { toReply } from '@mitos/testkit/server';
import { createNodeControlApi, createNodeSandboxApi } from './node-app.js';

const KEY = 'node-key-0123456789abcdef';
const TOKEN = 'sandbox-token-0123456789';

describe("a node's APIs", () => {
  it('serve the sandbox routes alone, each sandbox behind its own token, with the protocol envelope', async () => {
    const engine = new FakeEngine();
    await engine.ensureTemplate({ id: 'python' });
    await engine.create({ id: 'sb-1', templateId: 'python' });
    const api = createNodeSandboxApi({
      engine,
      nodeKey: KEY,
      sandboxTokens: { verify: (id, token) => id === 'sb-1' && token === TOKEN },
    });
    const call = async (path: string, key: string, body?: object, method = body ? 'POST' : 'GET') =>
      toReply(
        await api.app.request(path, {
          method,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          ...(body && { body: JSON.stringify(body) }),
        }),
      );
    const ran = await call('/v1/exec', TOKEN, { sandbox: 'sb-1', command: 'echo hi' });
    assert.deepEqual([ran.status, ran.body.stdout], [200, 'ran: echo hi\n']);
    // The node key opens no sandbox.
    const keyed = await call('/v1/exec', KEY, { sandbox: 'sb-1', command: 'x' });
    assert.deepEqual([keyed.status, keyed.body.error.code], [401, 'unauthorized']);
    assert.equal((await call('/v1/health', KEY)).status, 200);
    // Nothing of the public surface: sandboxes are made by the controller, not through a node.
    for (const [path, body] of [
      ['/v1/sandboxes', { template: 'python' }],
      ['/v1/templates', undefined],
      ['/v1/sandboxes/sb-1/fork', { count: 1 }],
      ['/v1/preview', { sandbox: 'sb-1', port: 80 }],
      ['/v1/sandboxes/sb-1/forward', { guest_port: 80 }],
      ['/v1/openapi.json', undefined],
    ] as const) {
      const res = await call(path, path.includes('sb-1') || body?.sandbox ? TOKEN : KEY, body);
      assert.equal(res.status, 404, path);
      assert.equal(res.body.error.code, 'not_found', path);
      assert.equal(typeof res.body.error.remediation, 'string', path);
    }
    api.close();
  });

  it('serve the control routes behind the node key on the same responder; /healthz is open', async () => {
    const api = createNodeControlApi({
      nodeKey: KEY,
      register: (router) => router.route('/node/v1/ping', { GET: (c) => c.json({ pong: true }) }),
    });
    const get = async (path: string, key?: string) =>
      toReply(await api.app.request(path, { headers: key ? { authorization: `Bearer ${key}` } : {} }));
    assert.deepEqual((await get('/node/v1/ping', KEY)).body, { pong: true });
    const refused = await get('/node/v1/ping', 'wrong-key-0123456789');
    assert.deepEqual([refused.status, refused.body.error.code], [401, 'unauthorized']);
    assert.equal((await get('/healthz')).text, 'ok');
    const unknown = await get('/node/v1/nope', KEY);
    assert.deepEqual([unknown.status, unknown.body.error.code], [404, 'not_found']);
  });
});
