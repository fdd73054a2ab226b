import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { API_VERSION } from '../api/group.js';
import type { SandboxClaim, SandboxFork, SandboxPool } from '../api/v1alpha1/index.js';
import { SANDBOX_CLAIMS, SANDBOX_FORKS, SANDBOX_POOLS } from '../kube/resources.js';
import { ReconcileFixture } from '../testing/reconcile-fixture.js';
import { reconcilePool } from './pool-reconciler.js';

function inputs(f: ReconcileFixture) {
  return {
    claims: (ns: string, pool: string) =>
      f.kube
        .all<SandboxClaim>(SANDBOX_CLAIMS)
        .filter((c) => c.metadata.namespace === ns && c.spec.poolRef.name === pool),
  };
}

const warmCount = (f: ReconcileFixture) =>
  [...f.nodes.values()].reduce((n, node) => n + node.sandboxes.list().filter((e) => e.owner.kind === 'warm').length, 0);

async function settle(f: ReconcileFixture) {
  for (let i = 0; i < 3; i++) {
    await reconcilePool(f.ctx, inputs(f), 'default', 'p1');
    await new Promise((r) => setImmediate(r));
  }
}

describe('pool reconciler', () => {
  it('prepares the template on replicas nodes and keeps replicas warm sandboxes', async () => {
    const f = new ReconcileFixture();
    f.addNode('n1');
    f.addNode('n2');
    await f.createPool('p1', { replicas: 2 });
    await settle(f);
    const pool = await f.kube.get<SandboxPool>(SANDBOX_POOLS, 'default', 'p1');
    assert.equal(pool?.status?.readySnapshots, 2);
    assert.deepEqual(pool?.status?.nodeDistribution, { n1: 1, n2: 1 });
    assert.equal(pool?.status?.desiredWarm, 2);
    assert.equal(warmCount(f), 2);
    assert.equal(pool?.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.ok(pool?.metadata.finalizers?.includes('mitos.run/pool-drain'));
  });

  it('a template with buildSteps is built from its spec on the nodes and warmed under its spec key', async () => {
    const f = new ReconcileFixture();
    const node = f.addNode('n1');
    const buildSteps = [{ type: 'run' as const, run: 'pip install requests' }];
    await f.createPool('p1', { replicas: 1, template: { buildSteps, networkPolicy: { allowCidrs: ['10.9.0.0/16'] } } });
    await settle(f);
    assert.equal(node.engine.specBuilds.length, 1);
    const build = node.engine.specBuilds[0];
    assert.deepEqual(build?.spec, { image: 'python', buildSteps });
    assert.deepEqual(build?.network, { egress: 'deny', inbound: 'deny', allow_cidrs: ['10.9.0.0/16'] });
    assert.match(build?.id ?? '', /^spec-[0-9a-f]{20}$/);
    const pool = await f.kube.get<SandboxPool>(SANDBOX_POOLS, 'default', 'p1');
    assert.equal(pool?.status?.templateDigest, build?.id);
    assert.equal(pool?.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.equal(warmCount(f), 1);
  });

  it('a template a cluster cannot build is TemplateInvalid, and nothing is built', async () => {
    const f = new ReconcileFixture();
    const node = f.addNode('n1');
    await f.createPool('p1', { template: { buildSteps: [{ type: 'copy', source: 'app', dest: '/app' }] } });
    await settle(f);
    const ready = (await f.kube.get<SandboxPool>(SANDBOX_POOLS, 'default', 'p1'))?.status?.conditions?.find(
      (c) => c.type === 'Ready',
    );
    assert.equal(ready?.reason, 'TemplateInvalid');
    assert.match(ready?.message ?? '', /copy steps need a build context/);
    assert.equal(node.engine.specBuilds.length, 0);
    assert.equal(warmCount(f), 0);
  });

  it('reports TemplateNotFound and NoEligibleNodes instead of guessing', async () => {
    const f = new ReconcileFixture();
    f.addNode('n1');
    await f.createPool('p1', { placement: { nodeSelector: { tier: 'gold' } } });
    await reconcilePool(f.ctx, inputs(f), 'default', 'p1');
    let pool = await f.kube.get<SandboxPool>(SANDBOX_POOLS, 'default', 'p1');
    assert.equal(pool?.status?.conditions?.[0]?.reason, 'NoEligibleNodes');
    await f.kube.patch(SANDBOX_POOLS, 'default', 'p1', { spec: { templateRef: { name: 'gone' } } });
    await reconcilePool(f.ctx, inputs(f), 'default', 'p1');
    pool = await f.kube.get<SandboxPool>(SANDBOX_POOLS, 'default', 'p1');
    assert.equal(pool?.status?.conditions?.[0]?.reason, 'TemplateNotFound');
  });

  it('autoscales within bounds: grows at once, shrinks only after the cooldown', async () => {
    const f = new ReconcileFixture();
    f.addNode('n1');
    await f.createPool('p1', {
      replicas: 1,
      autoscale: { minWarm: 1, maxWarm: 3, targetSpare: 2, scaleDownCooldownSeconds: 60 },
    });
    await settle(f);
    assert.equal(warmCount(f), 2, 'no claims: targetSpare');
    for (const name of ['a', 'b']) {
      await f.createClaim(name, 'p1');
      await f.kube.patch(SANDBOX_CLAIMS, 'default', name, { status: { phase: 'Ready' } }, { status: true });
    }
    await settle(f);
    assert.equal(warmCount(f), 3, 'two in use + 2 spare, capped at maxWarm');
    for (const name of ['a', 'b']) {
      await f.kube.patch(SANDBOX_CLAIMS, 'default', name, { status: { phase: 'Terminated' } }, { status: true });
    }
    await settle(f);
    assert.equal(warmCount(f), 3, 'a claim arrived within the cooldown');
    f.clock += 10 * 60_000;
    await settle(f);
    assert.equal(warmCount(f), 2);
    assert.ok((await f.kube.get<SandboxPool>(SANDBOX_POOLS, 'default', 'p1'))?.status?.lastScaleDownTime);
  });

  it('does not count fork children (claims its fork made) as demand for warm sandboxes', async () => {
    const f = new ReconcileFixture();
    f.addNode('n1');
    await f.createPool('p1', { replicas: 1, autoscale: { minWarm: 0, maxWarm: 5, targetSpare: 1 } });
    await f.createClaim('src', 'p1');
    await f.kube.patch(SANDBOX_CLAIMS, 'default', 'src', { status: { phase: 'Ready' } }, { status: true });
    await f.kube.create<SandboxFork>(SANDBOX_FORKS, {
      metadata: { name: 'fk', namespace: 'default' },
      spec: { sourceRef: { name: 'src' }, replicas: 2 },
    });
    const fork = await f.kube.get<SandboxFork>(SANDBOX_FORKS, 'default', 'fk');
    for (const i of [0, 1]) {
      const owner = { apiVersion: API_VERSION, kind: 'SandboxFork', name: 'fk', uid: fork?.metadata.uid ?? '' };
      await f.kube.create<SandboxClaim>(SANDBOX_CLAIMS, {
        metadata: { name: `fk-fork-${i}`, namespace: 'default', ownerReferences: [{ ...owner, controller: true }] },
        spec: { poolRef: { name: 'p1' } },
      });
      await f.kube.patch(SANDBOX_CLAIMS, 'default', `fk-fork-${i}`, { status: { phase: 'Ready' } }, { status: true });
    }
    await settle(f);
    assert.equal(warmCount(f), 2, 'one claim in use + 1 spare; its two fork children add nothing');
  });

  it('drains its warm sandboxes from every node when deleted', async () => {
    const f = new ReconcileFixture();
    f.addNode('n1');
    f.addNode('n2');
    await f.createPool('p1', { replicas: 2 });
    await settle(f);
    assert.equal(warmCount(f), 2);
    await f.kube.delete(SANDBOX_POOLS, 'default', 'p1');
    await reconcilePool(f.ctx, inputs(f), 'default', 'p1');
    assert.equal(warmCount(f), 0);
    assert.equal(await f.kube.get(SANDBOX_POOLS, 'default', 'p1'), undefined);
  });
});
