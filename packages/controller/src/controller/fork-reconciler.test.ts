import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANNOTATION_RELEASED_CHILDREN, FINALIZER_FORK } from '../api/group.js';
import type { SandboxClaim, SandboxFork } from '../api/v1alpha1/index.js';
import { SANDBOX_CLAIMS, SANDBOX_FORKS, SECRETS } from '../kube/resources.js';
import { ReconcileFixture } from '../testing/reconcile-fixture.js';
import { reconcileClaim } from './claim-reconciler.js';
import { reconcileFork } from './fork-reconciler.js';

async function setup(secrets = false) {
  const f = new ReconcileFixture();
  f.addNode('n1');
  f.addNode('n2');
  await f.createPool('p1');
  await f.prepareTemplates();
  await f.createClaim('src', 'p1', secrets ? { secrets: [{ name: 'K', secretRef: { name: 's', key: 'k' } }] } : {});
  await reconcileClaim(f.ctx, 'default', 'src');
  return f;
}

async function createFork(f: ReconcileFixture, replicas: number, extra: Partial<SandboxFork['spec']> = {}) {
  await f.kube.create<SandboxFork>(SANDBOX_FORKS, {
    metadata: { name: 'fk', namespace: 'default' },
    spec: { sourceRef: { name: 'src' }, replicas, ...extra },
  });
}

const fork = (f: ReconcileFixture) => f.kube.get<SandboxFork>(SANDBOX_FORKS, 'default', 'fk');

describe('fork reconciler', () => {
  it("makes N Ready children on the source's node, each with its own token Secret", async () => {
    const f = await setup();
    const source = await f.kube.get<SandboxClaim>(SANDBOX_CLAIMS, 'default', 'src');
    await createFork(f, 2);
    await reconcileFork(f.ctx, 'default', 'fk');
    const status = (await fork(f))?.status;
    assert.equal(status?.readyForks, 2);
    assert.deepEqual(
      status?.forks?.map((c) => c.name),
      ['fk-fork-0', 'fk-fork-1'],
    );
    for (const child of status?.forks ?? []) {
      assert.equal(child.node, source?.status?.node);
      assert.equal(child.endpoint, source?.status?.endpoint);
      assert.equal(child.phase, 'Ready');
      assert.ok(await f.kube.get(SECRETS, 'default', `${child.name}-sandbox-token`));
      assert.ok(f.nodes.get(child.node)?.engine.ids().includes(child.sandboxID));
    }
    const ready = status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.reason, 'ForksCreated');
    assert.equal(ready?.status, 'True');
    const stored = await fork(f);
    assert.ok(stored?.metadata.finalizers?.includes(FINALIZER_FORK));
    assert.equal(stored?.metadata.ownerReferences?.[0]?.name, 'src');
  });

  it('waits for a source that is not Ready yet', async () => {
    const f = new ReconcileFixture();
    await f.createClaim('src', 'nope');
    await createFork(f, 1);
    const r = await reconcileFork(f.ctx, 'default', 'fk');
    assert.equal(r.requeueAfterMs, 1_000);
    assert.equal((await fork(f))?.status?.conditions?.[0]?.reason, 'SourceNotReady');
  });

  it('rejects forking a source with secrets unless inheritance is allowed', async () => {
    const f = await setup(true);
    await createFork(f, 1);
    await reconcileFork(f.ctx, 'default', 'fk');
    const rejected = (await fork(f))?.status?.conditions?.find((c) => c.type === 'Rejected');
    assert.equal(rejected?.reason, 'SecretInheritanceDenied');
    assert.equal((await fork(f))?.status?.readyForks, 0);
  });

  it('allows it with allowSecretInheritance and records the opt-in', async () => {
    const f = await setup(true);
    await createFork(f, 1, { allowSecretInheritance: true });
    await reconcileFork(f.ctx, 'default', 'fk');
    const status = (await fork(f))?.status;
    assert.equal(status?.readyForks, 1);
    assert.equal(status?.conditions?.find((c) => c.type === 'SecretInheritance')?.reason, 'ExplicitOptIn');
  });

  it('terminates a released child, and deletes the fork once every child is released', async () => {
    const f = await setup();
    await createFork(f, 2);
    await reconcileFork(f.ctx, 'default', 'fk');
    const [first, second] = (await fork(f))?.status?.forks ?? [];
    await f.kube.patch(SANDBOX_FORKS, 'default', 'fk', {
      metadata: { annotations: { [ANNOTATION_RELEASED_CHILDREN]: first?.name } },
    });
    await reconcileFork(f.ctx, 'default', 'fk');
    assert.deepEqual(
      (await fork(f))?.status?.forks?.map((c) => c.name),
      [second?.name],
    );
    assert.equal(await f.kube.get(SECRETS, 'default', `${first?.name}-sandbox-token`), undefined);
    assert.ok(
      !f.nodes
        .get(first?.node ?? '')
        ?.engine.ids()
        .includes(first?.sandboxID ?? ''),
    );

    await f.kube.patch(SANDBOX_FORKS, 'default', 'fk', {
      metadata: { annotations: { [ANNOTATION_RELEASED_CHILDREN]: `${first?.name},${second?.name}` } },
    });
    await reconcileFork(f.ctx, 'default', 'fk');
    await reconcileFork(f.ctx, 'default', 'fk');
    assert.equal(await fork(f), undefined);
    assert.ok(
      !f.nodes
        .get(second?.node ?? '')
        ?.engine.ids()
        .includes(second?.sandboxID ?? ''),
    );
  });

  it('on deletion terminates every child and removes their Secrets', async () => {
    const f = await setup();
    await createFork(f, 2);
    await reconcileFork(f.ctx, 'default', 'fk');
    const children = (await fork(f))?.status?.forks ?? [];
    await f.kube.delete(SANDBOX_FORKS, 'default', 'fk');
    await reconcileFork(f.ctx, 'default', 'fk');
    assert.equal(await fork(f), undefined);
    for (const c of children) {
      assert.equal(await f.kube.get(SECRETS, 'default', `${c.name}-sandbox-token`), undefined);
      assert.ok(!f.nodes.get(c.node)?.engine.ids().includes(c.sandboxID));
    }
  });
});
