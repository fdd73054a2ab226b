import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANNOTATION_CAPACITY_PENDING_SINCE, FINALIZER_CLAIM } from '../api/group.js';
import type { Secret } from '../api/meta.js';
import type { SandboxFork } from '../api/v1alpha1/index.js';
import { SANDBOX_CLAIMS, SANDBOX_FORKS, SECRETS } from '../kube/resources.js';
import { ReconcileFixture } from '../testing/reconcile-fixture.js';
import { reconcileClaim } from './claim-reconciler.js';

async function readyClaim(f: ReconcileFixture, name = 'c1', pool = 'p1') {
  await f.createClaim(name, pool);
  return reconcileClaim(f.ctx, 'default', name);
}

describe('claim reconciler', () => {
  it('goes Ready in one status write carrying phase, endpoint and sandboxID, after the token Secret exists', async () => {
    const f = new ReconcileFixture();
    f.addNode('n1');
    await f.createPool('p1');
    await f.prepareTemplates();
    await readyClaim(f);
    const claim = await f.claim('c1');
    assert.equal(claim?.status?.phase, 'Ready');
    assert.match(claim?.status?.endpoint ?? '', /^10\.0\.0\.1:9091$/);
    assert.equal(claim?.status?.node, 'n1');
    assert.ok(claim?.status?.sandboxID);
    assert.ok(claim?.status?.startedAt);
    assert.deepEqual(claim?.metadata.finalizers, [FINALIZER_CLAIM]);
    const ready = claim?.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'True');
    assert.equal(ready?.reason, 'Forked');

    const writes = f.kube.writes;
    const firstReady = writes.findIndex(
      (w) => w.plural === 'sandboxclaims' && (w.object as { status?: { phase?: string } }).status?.phase === 'Ready',
    );
    const secret = writes.findIndex((w) => w.plural === 'secrets' && w.verb === 'create');
    assert.ok(secret >= 0 && secret < firstReady, 'the Secret is written before the Ready status');
    const readyWrite = writes[firstReady]?.object as unknown as { status: Record<string, unknown> };
    for (const field of ['endpoint', 'sandboxID', 'node']) assert.ok(readyWrite.status[field], field);

    const stored = await f.kube.get<Secret>(SECRETS, 'default', 'c1-sandbox-token');
    const token = Buffer.from(stored?.data?.token ?? '', 'base64').toString();
    assert.match(token, /^[0-9a-f]{64}$/);
    assert.equal(Buffer.from(stored?.data?.endpoint ?? '', 'base64').toString(), claim?.status?.endpoint);
    assert.equal(stored?.metadata.ownerReferences?.[0]?.uid, claim?.metadata.uid);
    assert.ok(
      f.nodes
        .get('n1')
        ?.sandboxes.list()
        .some((e) => e.id === claim?.status?.sandboxID && e.tokenDigest),
    );
  });

  it('replaces a token Secret left behind by an earlier claim of the same name', async () => {
    const f = new ReconcileFixture();
    f.addNode('n1');
    await f.createPool('p1');
    await f.prepareTemplates();
    const stale = 'e'.repeat(64);
    await f.kube.create<Secret>(SECRETS, {
      metadata: {
        name: 'c1-sandbox-token',
        namespace: 'default',
        ownerReferences: [{ apiVersion: 'mitos.run/v1alpha1', kind: 'SandboxClaim', name: 'c1', uid: 'old-uid' }],
      },
      data: { token: Buffer.from(stale).toString('base64') },
    });
    await readyClaim(f);
    const secret = await f.kube.get<Secret>(SECRETS, 'default', 'c1-sandbox-token');
    assert.notEqual(Buffer.from(secret?.data?.token ?? '', 'base64').toString(), stale);
    assert.equal(secret?.metadata.ownerReferences?.[0]?.uid, (await f.claim('c1'))?.metadata.uid);
  });

  it('hands over a warm sandbox of the pool when there is one', async () => {
    const f = new ReconcileFixture();
    const node = f.addNode('n1');
    await f.createPool('p1');
    await f.prepareTemplates();
    const [warm] = await node.sandboxes.addWarm('default', 'p1', 'python', 1);
    await readyClaim(f);
    assert.equal((await f.claim('c1'))?.status?.sandboxID, warm);
    assert.match((await f.claim('c1'))?.status?.conditions?.[0]?.message ?? '', /warm/);
  });

  it('places by label: only nodes matching the pool selector are used', async () => {
    const f = new ReconcileFixture();
    f.addNode('plain');
    f.addNode('gold', { tier: 'gold' });
    await f.createPool('p1', { placement: { nodeSelector: { tier: 'gold' } } });
    await f.prepareTemplates();
    await readyClaim(f);
    assert.equal((await f.claim('c1'))?.status?.node, 'gold');
  });

  it('waits Pending (never Failed) while the template builds, then goes Ready', async () => {
    const f = new ReconcileFixture();
    f.addNode('n1');
    await f.createPool('p1');
    const first = await readyClaim(f);
    const claim = await f.claim('c1');
    assert.equal(claim?.status?.phase, 'Restoring');
    assert.equal(claim?.status?.conditions?.[0]?.reason, 'TemplateNotReady');
    assert.ok((first.requeueAfterMs ?? 0) > 0);
    await new Promise((r) => setImmediate(r));
    await reconcileClaim(f.ctx, 'default', 'c1');
    assert.equal((await f.claim('c1'))?.status?.phase, 'Ready');
  });

  it('waits for capacity with an anchor annotation, then fails with CapacityExhausted', async () => {
    const f = new ReconcileFixture({ maxPendingMs: 60_000 });
    f.addNode('n1', {}, 0);
    await f.createPool('p1');
    await f.prepareTemplates();
    await readyClaim(f);
    let claim = await f.claim('c1');
    assert.equal(claim?.status?.phase, 'Pending');
    assert.ok(claim?.metadata.annotations?.[ANNOTATION_CAPACITY_PENDING_SINCE]);
    f.clock += 61_000;
    await reconcileClaim(f.ctx, 'default', 'c1');
    claim = await f.claim('c1');
    assert.equal(claim?.status?.phase, 'Failed');
    assert.equal(claim?.status?.conditions?.[0]?.reason, 'CapacityExhausted');
    assert.ok(claim?.status?.finishedAt);
  });

  it('stays Pending with PoolNotFound when the pool does not exist', async () => {
    const f = new ReconcileFixture();
    f.addNode('n1');
    await f.createClaim('c1', 'missing');
    await reconcileClaim(f.ctx, 'default', 'c1');
    const claim = await f.claim('c1');
    assert.equal(claim?.status?.phase, 'Pending');
    assert.equal(claim?.status?.conditions?.[0]?.reason, 'PoolNotFound');
    assert.equal(claim?.metadata.finalizers, undefined, 'no finalizer before anything is acquired');
  });

  it('fails a Ready claim whose node stopped renewing its lease', async () => {
    const f = new ReconcileFixture();
    f.addNode('n1');
    await f.createPool('p1');
    await f.prepareTemplates();
    await readyClaim(f);
    f.nodes.get('n1')!.healthy = false;
    await reconcileClaim(f.ctx, 'default', 'c1');
    const claim = await f.claim('c1');
    assert.equal(claim?.status?.phase, 'Failed');
    assert.equal(claim?.status?.conditions?.[0]?.reason, 'NodeLost');
  });

  it('terminates at spec.timeout, then deletes the claim after ttlSecondsAfterFinished', async () => {
    const f = new ReconcileFixture();
    const node = f.addNode('n1');
    await f.createPool('p1');
    await f.prepareTemplates();
    await f.createClaim('c1', 'p1', { timeout: '1m', ttlSecondsAfterFinished: 30 });
    const ready = await reconcileClaim(f.ctx, 'default', 'c1');
    assert.ok((ready.requeueAfterMs ?? Infinity) <= 30_000);
    const id = (await f.claim('c1'))?.status?.sandboxID;
    f.clock += 61_000;
    await reconcileClaim(f.ctx, 'default', 'c1');
    const claim = await f.claim('c1');
    assert.equal(claim?.status?.phase, 'Terminated');
    assert.equal(claim?.status?.conditions?.find((c) => c.type === 'Terminated')?.reason, 'MaxLifetimeExceeded');
    assert.ok(!node.engine.ids().includes(id ?? ''));
    f.clock += 31_000;
    await reconcileClaim(f.ctx, 'default', 'c1');
    // The finalizer keeps the object until the next reconcile sees the deletion.
    await reconcileClaim(f.ctx, 'default', 'c1');
    assert.equal(await f.claim('c1'), undefined);
  });

  it('on deletion releases the sandbox, the token Secret and the forks, then drops the finalizer', async () => {
    const f = new ReconcileFixture();
    const node = f.addNode('n1');
    await f.createPool('p1');
    await f.prepareTemplates();
    await readyClaim(f);
    const id = (await f.claim('c1'))?.status?.sandboxID ?? '';
    await f.kube.create<SandboxFork>(SANDBOX_FORKS, {
      metadata: { name: 'c1-fork-x', namespace: 'default', labels: { 'mitos.run/source-claim': 'c1' } },
      spec: { sourceRef: { name: 'c1' }, replicas: 1 },
    });
    await f.kube.delete(SANDBOX_CLAIMS, 'default', 'c1');
    assert.ok((await f.claim('c1'))?.metadata.deletionTimestamp, 'held by the finalizer');
    await reconcileClaim(f.ctx, 'default', 'c1');
    assert.equal(await f.claim('c1'), undefined);
    assert.equal(await f.kube.get(SECRETS, 'default', 'c1-sandbox-token'), undefined);
    assert.equal(await f.kube.get(SANDBOX_FORKS, 'default', 'c1-fork-x'), undefined);
    assert.ok(!node.engine.ids().includes(id));
  });

  it('is idempotent: reconciling a Ready claim again changes nothing', async () => {
    const f = new ReconcileFixture();
    f.addNode('n1');
    await f.createPool('p1');
    await f.prepareTemplates();
    await readyClaim(f);
    const before = f.kube.writes.length;
    await reconcileClaim(f.ctx, 'default', 'c1');
    assert.equal(f.kube.writes.length, before);
  });
});
