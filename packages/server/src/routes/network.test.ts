import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeTestApp, withSandbox } from '@mitos/testkit/server';

describe('/v1/sandboxes/:id/network', () => {
  it('GET answers the effective posture; PUT changes it and answers the new one', async () => {
    const t = makeTestApp();
    await withSandbox(t, 'sb-1');
    const before = await t.call('/v1/sandboxes/sb-1/network');
    assert.equal(before.status, 200);
    assert.deepEqual(before.body, { egress: 'deny', inbound: 'deny' });
    const put = await t.call(
      '/v1/sandboxes/sb-1/network',
      { egress: 'allow', allow_cidrs: ['10.1.2.0/24:5432'], inbound: '' },
      { method: 'PUT' },
    );
    assert.equal(put.status, 200);
    assert.deepEqual(put.body, { egress: 'allow', inbound: 'deny', allow_cidrs: ['10.1.2.0/24:5432'] });
    assert.deepEqual(t.engine.postures.get('sb-1'), put.body);
    const record = await t.call('/v1/sandboxes/sb-1');
    assert.deepEqual(record.body.network, { egress: 'allow', inbound: 'deny', allowCidrs: ['10.1.2.0/24:5432'] });
  });

  it('refuses a bad entry with 400 naming it, and changes nothing', async () => {
    const t = makeTestApp();
    await withSandbox(t, 'sb-1');
    const res = await t.call(
      '/v1/sandboxes/sb-1/network',
      { egress: 'deny', allow_domains: ['ok.example:443', '*.:99999'] },
      { method: 'PUT' },
    );
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_json');
    assert.match(res.body.error.cause, /allow_domains\.1: "\*\.:99999"/);
    assert.equal(t.engine.postures.size, 0);
  });

  it('answers 404 for an unknown sandbox', async () => {
    const t = makeTestApp();
    assert.equal((await t.call('/v1/sandboxes/ghost/network')).status, 404);
    assert.equal((await t.call('/v1/sandboxes/ghost/network', { egress: 'deny' }, { method: 'PUT' })).status, 404);
  });

  it('POST /v1/fork passes a per-sandbox posture to the engine', async () => {
    const t = makeTestApp();
    await t.call('/v1/templates', { id: 'python' });
    const res = await t.call('/v1/fork', { template: 'python', id: 'own', network: { egress: 'allow' } });
    assert.equal(res.status, 200);
    assert.deepEqual(t.engine.createCalls.at(-1)?.network, { egress: 'allow', inbound: 'deny' });
    const bad = await t.call('/v1/fork', { template: 'python', id: 'own2', network: { allow_cidrs: ['nope'] } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.cause, /network\.allow_cidrs\.0/);
  });
});
