import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SandboxClaim, SandboxFork } from '../api/v1alpha1/index.js';
import { SANDBOX_CLAIMS, SANDBOX_FORKS } from '../kube/resources.js';
import { ReconcileFixture } from '../testing/reconcile-fixture.js';
import { reconcileClaim } from './claim-reconciler.js';
import { reconcileFork } from './fork-reconciler.js';
import { collectGarbage } from './garbage-collector.js';

describe('garbage collector', () => {
  it('terminates sandboxes whose claim, fork or pool is gone, but only once they are old enough', async () => {
    const f = new ReconcileFixture();
    const node = f.addNode('n1');
    await f.prepareTemplates();
    await node.sandboxes.acquire({
      namespace: 'default',
      pool: 'p',
      claim: 'ghost',
      image: 'python',
      token: 'a'.repeat(64),
    });
    await node.sandboxes.addWarm('default', 'deleted-pool', 'python', 1);
    const young = await collectGarbage(f.ctx, () => [], 60_000);
    assert.deepEqual(young.terminated, []);
    f.clock = Date.now() + 120_000;
    const old = await collectGarbage(f.ctx, () => [], 60_000);
    assert.equal(old.terminated.length, 2);
    assert.deepEqual(node.engine.ids(), []);
  });

  it('keeps sandboxes that a live object accounts for', async () => {
    const f = new ReconcileFixture();
    const node = f.addNode('n1');
    await f.createPool('p1');
    await f.prepareTemplates();
    await f.createClaim('c1', 'p1');
    await reconcileClaim(f.ctx, 'default', 'c1');
    f.clock = Date.now() + 120_000;
    const report = await collectGarbage(f.ctx, () => [], 60_000);
    assert.deepEqual(report.terminated, []);
    assert.equal(node.engine.ids().length, 1);
  });

  it('fails a Ready claim whose sandbox vanished from its node', async () => {
    const f = new ReconcileFixture();
    const node = f.addNode('n1');
    await f.createPool('p1');
    await f.prepareTemplates();
    await f.createClaim('c1', 'p1');
    await reconcileClaim(f.ctx, 'default', 'c1');
    const claim = (await f.kube.get<SandboxClaim>(SANDBOX_CLAIMS, 'default', 'c1'))!;
    await node.engine.terminate(claim.status?.sandboxID ?? '');
    f.clock = Date.now() + 120_000;
    const report = await collectGarbage(f.ctx, () => [claim], 60_000);
    assert.deepEqual(report.failedClaims, ['default/c1']);
    const after = await f.kube.get<SandboxClaim>(SANDBOX_CLAIMS, 'default', 'c1');
    assert.equal(after?.status?.phase, 'Failed');
    assert.equal(after?.status?.conditions?.[0]?.reason, 'OrphanReaped');
  });

  it("terminates a fork's sandbox once its child claim is gone, even while the fork lasts", async () => {
    const f = new ReconcileFixture();
    const node = f.addNode('n1');
    await f.createPool('p1');
    await f.prepareTemplates();
    await f.createClaim('src', 'p1');
    await reconcileClaim(f.ctx, 'default', 'src');
    await f.kube.create<SandboxFork>(SANDBOX_FORKS, {
      metadata: { name: 'fk', namespace: 'default' },
      spec: { sourceRef: { name: 'src' }, replicas: 2 },
    });
    await reconcileFork(f.ctx, 'default', 'fk');
    const [lost, kept] = (await f.kube.get<SandboxFork>(SANDBOX_FORKS, 'default', 'fk'))?.status?.forks ?? [];
    // The claim vanishes without its finalizer running (as if removed by hand).
    await f.kube.patch(SANDBOX_CLAIMS, 'default', lost?.name ?? '', { metadata: { finalizers: null } });
    await f.kube.delete(SANDBOX_CLAIMS, 'default', lost?.name ?? '');
    f.clock = Date.now() + 120_000;
    const report = await collectGarbage(f.ctx, () => [], 60_000);
    assert.deepEqual(report.terminated, [`n1/${lost?.sandboxID}`]);
    assert.ok(node.engine.ids().includes(kept?.sandboxID ?? ''));
  });
});
