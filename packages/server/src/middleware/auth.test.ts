import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeTestApp, type TestApp } from '@mitos/testkit/server';
import { normalizeApiKeys } from './auth.js';

const KEY = 'mitos-test-key-5f1c0e7a9b';

function bearer(key: string): { headers: Record<string, string> } {
  return { headers: { Authorization: `Bearer ${key}` } };
}

describe('bearer auth', () => {
  it('is tokenless without keys: any Authorization header is accepted and ignored', async () => {
    const t = makeTestApp();
    assert.equal((await t.call('/v1/health')).status, 200);
    assert.equal((await t.call('/v1/health', undefined, bearer('whatever'))).status, 200);
  });

  it('requires a key on every route, health and unknown paths included', async () => {
    const t = makeTestApp({ apiKeys: [KEY] });
    for (const [path, body] of [
      ['/v1/health', undefined],
      ['/v1/templates', undefined],
      ['/v1/fork', { template: 'python' }],
      ['/v1/exec', { sandbox: 'sb-1', command: 'x' }],
      ['/v1/nope', undefined],
    ] as const) {
      const res = await t.call(path, body);
      assert.equal(res.status, 401, path);
      assert.equal(res.body.error.code, 'unauthorized');
    }
  });

  it('rejects a wrong key and a malformed header', async () => {
    const t = makeTestApp({ apiKeys: [KEY] });
    for (const header of [`Bearer ${KEY}x`, `Bearer ${KEY.slice(0, -1)}`, `Basic ${KEY}`, KEY, 'Bearer ']) {
      const res = await t.call('/v1/health', undefined, { headers: { Authorization: header } });
      assert.equal(res.status, 401, header);
    }
  });

  it('accepts the right key, any of several, with any scheme case', async () => {
    const t = makeTestApp({ apiKeys: ['other-key', KEY] });
    assert.equal((await t.call('/v1/health', undefined, bearer(KEY))).status, 200);
    assert.equal((await t.call('/v1/health', undefined, { headers: { Authorization: `bearer ${KEY}` } })).status, 200);
    assert.equal((await t.call('/v1/health', undefined, bearer('other-key'))).status, 200);
  });

  it('never puts a presented or configured key in a response or a log line', async () => {
    const t: TestApp = makeTestApp({ apiKeys: [KEY] });
    const texts: string[] = [];
    for (const init of [{}, bearer(KEY), bearer(`${KEY}-wrong`), { headers: { Authorization: `Basic ${KEY}` } }]) {
      texts.push((await t.call('/v1/health', undefined, init)).text);
      texts.push((await t.call('/v1/exec', { sandbox: 'sb-1', command: 'x' }, init)).text);
      texts.push((await t.call('/v1/sandboxes/sb-1', undefined, { ...init, method: 'GET' })).text);
      texts.push((await t.call('/v1/fork', '{bad', { ...init, method: 'POST' })).text);
    }
    for (const text of [...texts, ...t.lines]) assert.ok(!text.includes(KEY), text);
  });

  it('scrubs a configured key from error causes even when the client echoes it in a field', async () => {
    const t = makeTestApp({ apiKeys: [KEY] });
    const res = await t.call('/v1/sandboxes/x', undefined, { ...bearer(KEY), method: 'DELETE' });
    assert.equal(res.status, 404);
    const echoed = await t.call('/v1/templates', { id: `${KEY}/x` }, bearer(KEY));
    assert.equal(echoed.status, 400);
    assert.ok(!echoed.text.includes(KEY));
    assert.match(echoed.body.error.cause, /\[REDACTED\]/);
  });

  it('fails closed when the configured keys are all blank', () => {
    assert.throws(() => normalizeApiKeys(['', '  ']), { code: 'invalid_request' });
    assert.deepEqual(normalizeApiKeys(undefined), []);
    assert.deepEqual(normalizeApiKeys([' k ']), ['k']);
  });
});
