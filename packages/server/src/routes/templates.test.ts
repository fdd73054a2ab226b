import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeTestApp } from '@mitos/testkit/server';

describe('POST /v1/templates', () => {
  it('creates a template and answers the 4.2 record with the secure default network', async () => {
    const t = makeTestApp();
    const res = await t.call('/v1/templates', { id: 'python', init_wait_seconds: 5 });
    assert.equal(res.status, 200);
    assert.equal(res.body.id, 'python');
    assert.equal(res.body.ready, true);
    assert.ok(!Number.isNaN(Date.parse(res.body.created_at)));
    assert.equal(typeof res.body.creation_time_ms, 'number');
    assert.deepEqual(res.body.network, { egress: 'deny', inbound: 'deny' });
  });

  it('is get-or-create: re-creating an existing id is 200', async () => {
    const t = makeTestApp();
    const first = await t.call('/v1/templates', { id: 'python' });
    const second = await t.call('/v1/templates', { id: 'python' });
    assert.equal(second.status, 200);
    assert.equal(second.body.created_at, first.body.created_at);
  });

  it('passes the resolved network modes to the engine', async () => {
    const t = makeTestApp();
    const res = await t.call('/v1/templates', { id: 'open', network: { egress: 'allow', inbound: '' } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.network, { egress: 'allow', inbound: 'deny' });
  });

  it('requires an id', async () => {
    const t = makeTestApp();
    const res = await t.call('/v1/templates', { id: '' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_json');
    assert.equal(res.body.error.cause, 'id is required');
    assert.equal((await t.call('/v1/templates', {})).status, 400);
  });

  it('rejects ids with invalid characters, path tricks and NUL', async () => {
    const t = makeTestApp();
    for (const id of ['../x', 'a/b', 'x\u0000y', '-lead', 'a'.repeat(65), 'sp ace']) {
      const res = await t.call('/v1/templates', { id });
      assert.equal(res.status, 400, JSON.stringify(id));
      assert.equal(res.body.error.code, 'invalid_json');
    }
    assert.equal(t.engine.templates.size, 0);
  });

  it('rejects bad network modes and CIDRs as "invalid network config"', async () => {
    const t = makeTestApp();
    const cases = [
      { egress: 'sometimes' },
      { inbound: 'open' },
      { allow_cidrs: ['10.0.0.0'] },
      { allow_cidrs: ['10.0.0.0/33'] },
      { inbound_cidrs: ['fd00::/129'] },
      { allow_cidrs: ['not-an-ip/8'] },
      'deny',
    ];
    for (const network of cases) {
      const res = await t.call('/v1/templates', { id: 'python', network });
      assert.equal(res.status, 400, JSON.stringify(network));
      assert.equal(res.body.error.code, 'invalid_json');
      assert.match(res.body.error.cause, /^invalid network config: /);
    }
  });

  it('passes allowlists to the engine (which enforces or refuses them) and names a bad entry', async () => {
    const t = makeTestApp();
    const network = { allow_cidrs: ['10.0.0.0/8', '203.0.113.7/32:443'], allow_domains: ['*.pypi.org:443'] };
    const res = await t.call('/v1/templates', { id: 'python', network });
    assert.equal(res.status, 200);
    assert.deepEqual(t.engine.templates.get('python')?.network, { egress: 'deny', inbound: 'deny', ...network });
    const bad = await t.call('/v1/templates', { id: 'python', network: { allow_domains: ['pypi.org:443', 'x'] } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.cause, /allow_domains\.1: "x"/);
  });
});

describe('GET /v1/templates', () => {
  it('answers [] when empty and the records otherwise', async () => {
    const t = makeTestApp();
    assert.deepEqual((await t.call('/v1/templates')).body, []);
    await t.call('/v1/templates', { id: 'python' });
    const list = await t.call('/v1/templates');
    assert.equal(list.status, 200);
    assert.equal(list.body.length, 1);
    assert.equal(list.body[0].id, 'python');
    assert.equal(list.body[0].ready, true);
  });
});

describe('POST /v1/templates with Idempotency-Key', () => {
  it('replays the bound template and ignores the new body', async () => {
    const t = makeTestApp();
    const headers = { 'Idempotency-Key': 'k-template-1' };
    const first = await t.call('/v1/templates', { id: 'python' }, { headers });
    const again = await t.call('/v1/templates', { id: 'node' }, { headers });
    assert.equal(again.status, 200);
    assert.equal(again.body.id, first.body.id);
    assert.equal(t.engine.templates.has('node'), false);
  });

  it("refuses the 0.3.x clients' workload and resources instead of ignoring them", async () => {
    const t = makeTestApp();
    for (const field of ['workload', 'resources']) {
      const res = await t.call('/v1/templates', { id: 'python', [field]: { command: ['x'] } });
      assert.equal(res.status, 501);
      assert.equal(res.body.error.code, 'not_implemented');
      assert.equal(res.body.error.context.field, field);
    }
    assert.equal(t.engine.templates.size, 0);
  });
});
