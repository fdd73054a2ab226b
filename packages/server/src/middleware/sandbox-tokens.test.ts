import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeTestApp, withSandbox } from '@mitos/testkit/server';
import type { SandboxTokenVerifier } from './auth.js';

const NODE_KEY = 'node-key-6c0d1f2e3a4b5c6d';
const TOKENS: Record<string, string> = { 'sb-1': 'a'.repeat(64), 'sb-2': 'b'.repeat(64) };

const verifier: SandboxTokenVerifier = {
  verify: (id, token) => TOKENS[id] !== undefined && TOKENS[id] === token,
};

function bearer(token: string): { headers: Record<string, string> } {
  return { headers: { Authorization: `Bearer ${token}` } };
}

async function clusterApp(apiKeys: string[] = [NODE_KEY]) {
  const t = makeTestApp({ apiKeys, sandboxTokens: verifier });
  await withSandbox(t, 'sb-1');
  await withSandbox(t, 'sb-2');
  return t;
}

describe('per-sandbox bearer tokens', () => {
  it('opens a sandbox named in the body with its own token', async () => {
    const t = await clusterApp();
    const res = await t.call('/v1/exec', { sandbox: 'sb-1', command: 'echo hi' }, bearer(TOKENS['sb-1']!));
    assert.equal(res.status, 200, res.text);
  });

  it("never opens a sandbox with another sandbox's token or with an API key", async () => {
    const t = await clusterApp();
    for (const token of [TOKENS['sb-2']!, NODE_KEY, `${TOKENS['sb-1']}x`, 'a'.repeat(63)]) {
      const res = await t.call('/v1/exec', { sandbox: 'sb-1', command: 'echo hi' }, bearer(token));
      assert.equal(res.status, 401, token.slice(0, 8));
      assert.equal(res.body.error.code, 'unauthorized');
    }
    assert.equal(t.engine.execCalls.length, 0);
  });

  it('fails closed: missing header, unknown sandbox, non-string id, throwing verifier', async () => {
    const t = await clusterApp();
    assert.equal((await t.call('/v1/exec', { sandbox: 'sb-1', command: 'x' })).status, 401);
    assert.equal((await t.call('/v1/exec', { sandbox: 'nope', command: 'x' }, bearer(TOKENS['sb-1']!))).status, 401);
    assert.equal((await t.call('/v1/exec', { sandbox: 7, command: 'x' }, bearer(NODE_KEY))).status, 401);
    const throwing = makeTestApp({
      sandboxTokens: {
        verify: () => {
          throw new Error('store unavailable');
        },
      },
    });
    await withSandbox(throwing, 'sb-1');
    const res = await throwing.call('/v1/exec', { sandbox: 'sb-1', command: 'x' }, bearer(TOKENS['sb-1']!));
    assert.equal(res.status, 401);
  });

  it('checks the query and the path too, and every id a request names', async () => {
    const t = await clusterApp();
    const del = (token: string) => t.call('/v1/sandboxes/sb-2', undefined, { ...bearer(token), method: 'DELETE' });
    assert.equal((await del(TOKENS['sb-1']!)).status, 401);
    assert.equal((await del(NODE_KEY)).status, 401);
    assert.equal((await del(TOKENS['sb-2']!)).status, 200);
    const q = await t.call('/v1/pty?sandbox=sb-1', undefined, bearer(TOKENS['sb-2']!));
    assert.equal(q.status, 401);
    const both = await t.call('/v1/exec?sandbox=sb-2', { sandbox: 'sb-1', command: 'x' }, bearer(TOKENS['sb-1']!));
    assert.equal(both.status, 401);
  });

  it('leaves routes that name no sandbox to the API keys', async () => {
    const t = await clusterApp();
    assert.equal((await t.call('/v1/health')).status, 401);
    assert.equal((await t.call('/v1/health', undefined, bearer(TOKENS['sb-1']!))).status, 401);
    assert.equal((await t.call('/v1/health', undefined, bearer(NODE_KEY))).status, 200);
    assert.equal((await t.call('/v1/fork', { template: 'python' }, bearer(TOKENS['sb-1']!))).status, 401);
  });

  it('still lets the route read the body after the peek', async () => {
    const t = await clusterApp([]);
    const res = await t.call(
      '/v1/files/write',
      { sandbox: 'sb-1', path: '/workspace/a.txt', content: 'aGk=', encoding: 'base64' },
      bearer(TOKENS['sb-1']!),
    );
    assert.equal(res.status, 200, res.text);
    const bad = await t.call('/v1/exec', '{not json', bearer(TOKENS['sb-1']!));
    assert.equal(bad.status, 400);
  });

  it('never echoes a presented token', async () => {
    const t = await clusterApp();
    const res = await t.call('/v1/exec', { sandbox: 'sb-1', command: 'x' }, bearer(TOKENS['sb-2']!));
    assert.ok(!res.text.includes(TOKENS['sb-2']!));
    for (const line of t.lines) assert.ok(!line.includes(TOKENS['sb-2']!));
  });
});
