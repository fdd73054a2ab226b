import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MitosError } from '@mitos/protocol';
import { makeTestApp, withSandbox } from '@mitos/testkit/server';

describe('GET /v1/metering', () => {
  it('reports usage per live sandbox and additive totals', async () => {
    const t = makeTestApp();
    await withSandbox(t, 'sb-1');
    await t.engine.create({ id: 'sb-2', templateId: 'python' });
    const res = await t.call('/v1/metering');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.sandboxes[0], {
      sandbox: 'sb-1',
      memory: { unique_bytes: 1000, shared_bytes: 5000, cgroup_bytes: 3000 },
      disk: { exclusive_bytes: 200, shared_bytes: 900 },
      cpu_ns: 42,
      egress_bytes: 0,
    });
    assert.equal(res.body.sandboxes.length, 2);
    assert.deepEqual(res.body.totals, {
      sandboxes: 2,
      memory: { unique_bytes: 2000, cgroup_bytes: 6000 },
      disk: { exclusive_bytes: 400 },
      cpu_ns: 84,
      egress_bytes: 0,
    });
  });

  it('leaves out a sandbox that vanished while being measured', async () => {
    const t = makeTestApp();
    await withSandbox(t, 'sb-1');
    await t.engine.create({ id: 'sb-2', templateId: 'python' });
    const usage = t.engine.usage.bind(t.engine);
    t.engine.usage = async (id) => {
      if (id === 'sb-2') throw new MitosError('not_found', 'gone');
      return usage(id);
    };
    const res = await t.call('/v1/metering');
    assert.deepEqual(
      res.body.sandboxes.map((s: { sandbox: string }) => s.sandbox),
      ['sb-1'],
    );
    assert.equal(res.body.totals.sandboxes, 1);
  });

  it('answers an empty report when there are no sandboxes', async () => {
    const t = makeTestApp();
    const res = await t.call('/v1/metering');
    assert.deepEqual(res.body, {
      sandboxes: [],
      totals: {
        sandboxes: 0,
        memory: { unique_bytes: 0, cgroup_bytes: 0 },
        disk: { exclusive_bytes: 0 },
        cpu_ns: 0,
        egress_bytes: 0,
      },
    });
  });
});
