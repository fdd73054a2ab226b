import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HealthResponseSchema } from '@mitos/protocol';
import { FakeEngine } from '@mitos/testkit';
import { makeTestApp, withSandbox } from '@mitos/testkit/server';

describe('GET /v1/health', () => {
  it('reports ok, mock false, counts, engine name and version', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    const res = await t.call('/v1/health');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      status: 'ok',
      mock: false,
      templates: 1,
      sandboxes: 1,
      engine: 'fake',
      version: 'test',
    });
  });

  it('reports the warm pool of an engine that keeps one', async () => {
    const engine = new FakeEngine();
    const status = { size: 2, enabled: true, templates: [{ template: 'python', ready: 1, refilling: true }] };
    Object.assign(engine, { pool: { status: () => status } });
    const res = await makeTestApp({ engine }).call('/v1/health');
    assert.deepEqual((res.body as { warm_pool: unknown }).warm_pool, status);
    assert.equal(HealthResponseSchema.safeParse(res.body).success, true);
  });

  it('answers HEAD through the GET route', async () => {
    const t = makeTestApp();
    const res = await t.app.request('http://localhost/v1/health', { method: 'HEAD' });
    assert.equal(res.status, 200);
  });
});
