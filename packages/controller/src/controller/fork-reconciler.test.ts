import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { API_VERSION, FINALIZER_CLAIM, FINALIZER_FORK, LABEL_FORK } from '../api/group.js';
import type { Secret } from '../api/meta.js';
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
  if (secrets) {
    // The claim's secret must exist: the claim reconciler delivers its value into the sandbox.
    await f.kube.create<Secret>(SECRETS, {
      metadata: { name: 's', namespace: 'default' },
      data: { k: Buffer.from('v').toString('base64') },
    });
  }
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

  it('passes pauseSource to the node: false keeps the source running, unset keeps the engine default', async () => {
    const f = await setup();
    const source = await f.kube.get<SandboxClaim>(SANDBOX_CLAIMS, 'default', 'src');
    const engine = f.nodes.get(source?.status?.node ?? '')?.engine;
    await createFork(f, 1, { pauseSource: false });
    await reconcileFork(f.ctx, 'default', 'fk');
    assert.equal(engine?.forkCalls.at(-1)?.pauseSource, false);
    await f.kube.create<SandboxFork>(SANDBOX_FORKS, {
      metadata: { name: 'fk2', namespace: 'default' },
      spec: { sourceRef: { name: 'src' }, replicas: 1 },
    });
    await reconcileFork(f.ctx, 'default', 'fk2');
    assert.equal(engine?.forkCalls.at(-1)?.pauseSource, undefined);
  });

  it("says plainly that a fork is not placed on another node when the source's node is full", async () => {
    const f = new ReconcileFixture();
    f.addNode('small', {}, 1);
    f.addNode('big');
    await f.createPool('p1');
    await f.prepareTemplates();
    await f.createClaim('src', 'p1', { nodeName: 'small' });
    await reconcileClaim(f.ctx, 'default', 'src');
    const source = await f.kube.get<SandboxClaim>(SANDBOX_CLAIMS, 'default', 'src');
    assert.equal(source?.status?.node, 'small');
    await createFork(f, 1);
    const r = await reconcileFork(f.ctx, 'default', 'fk');
    assert.equal(r.requeueAfterMs, 2_000);
    const ready = (await fork(f))?.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.reason, 'SourceNodeFull');
    assert.match(ready?.message ?? '', /cross-node fork is not supported/);
    assert.equal(f.nodes.get('big')?.engine.ids().length, 0);
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

  it('makes each child a SandboxClaim the fork controls, Ready in one write after its Secret', async () => {
    const f = await setup();
    await createFork(f, 2);
    await reconcileFork(f.ctx, 'default', 'fk');
    const stored = await fork(f);
    for (const entry of stored?.status?.forks ?? []) {
      const claim = await f.claim(entry.name);
      assert.equal(claim?.status?.phase, 'Ready');
      assert.equal(claim?.status?.endpoint, entry.endpoint);
      assert.equal(claim?.status?.node, entry.node);
      assert.equal(claim?.status?.sandboxID, entry.sandboxID);
      assert.equal(claim?.spec.poolRef.name, 'p1', "the source's pool");
      assert.equal(claim?.metadata.labels?.[LABEL_FORK], 'fk');
      assert.deepEqual(claim?.metadata.finalizers, [FINALIZER_CLAIM]);
      const owner = claim?.metadata.ownerReferences?.[0];
      assert.equal(owner?.kind, 'SandboxFork');
      assert.equal(owner?.uid, stored?.metadata.uid);
      assert.equal(owner?.controller, true);
      const secret = await f.kube.get<Secret>(SECRETS, 'default', `${entry.name}-sandbox-token`);
      assert.equal(secret?.metadata.ownerReferences?.[0]?.uid, claim?.metadata.uid);
      const writes = f.kube.writes.filter((w) => w.name === entry.name || w.name === `${entry.name}-sandbox-token`);
      const secretAt = writes.findIndex((w) => w.plural === 'secrets');
      const readyAt = writes.findIndex((w) => (w.object as SandboxClaim).status?.phase === 'Ready');
      assert.ok(secretAt >= 0 && secretAt < readyAt, 'the Secret exists before the claim is Ready');
    }
  });

  it('leaves a child claim to its fork: the claim reconciler never provisions one', async () => {
    const f = await setup();
    await createFork(f, 1);
    const before = f.nodes.get('n1')?.engine.ids().length ?? 0;
    const stored = await fork(f);
    // As if the fork reconciler had made the claim and stopped before its sandbox.
    await f.kube.create<SandboxClaim>(SANDBOX_CLAIMS, {
      metadata: {
        name: 'fk-fork-0',
        namespace: 'default',
        ownerReferences: [
          {
            apiVersion: API_VERSION,
            kind: 'SandboxFork',
            name: 'fk',
            uid: stored?.metadata.uid ?? '',
            controller: true,
          },
        ],
      },
      spec: { poolRef: { name: 'p1' } },
    });
    assert.deepEqual(await reconcileClaim(f.ctx, 'default', 'fk-fork-0'), {});
    assert.equal((await f.claim('fk-fork-0'))?.status, undefined);
    assert.equal(f.nodes.get('n1')?.engine.ids().length, before);
    await reconcileFork(f.ctx, 'default', 'fk');
    assert.equal((await f.claim('fk-fork-0'))?.status?.phase, 'Ready', 'the fork adopts the claim it owns');
  });

  it('picks up a child made Ready by a reconcile that stopped before recording it', async () => {
    const f = await setup();
    await createFork(f, 1);
    await reconcileFork(f.ctx, 'default', 'fk');
    const entries = (await fork(f))?.status?.forks ?? [];
    const startedAt = (await f.claim('fk-fork-0'))?.status?.startedAt;
    await f.kube.patch(
      SANDBOX_FORKS,
      'default',
      'fk',
      { status: { readyForks: 0, forks: entries.map((e) => ({ ...e, phase: 'Pending' })) } },
      { status: true },
    );
    f.clock += 5_000;
    await reconcileFork(f.ctx, 'default', 'fk');
    assert.equal((await fork(f))?.status?.forks?.[0]?.phase, 'Ready');
    assert.equal((await fork(f))?.status?.readyForks, 1);
    assert.equal((await f.claim('fk-fork-0'))?.status?.startedAt, startedAt, 'not forked or written again');
  });

  it('deleting one child claim ends that child only, and it is not made again', async () => {
    const f = await setup();
    await createFork(f, 2);
    await reconcileFork(f.ctx, 'default', 'fk');
    const [first, second] = (await fork(f))?.status?.forks ?? [];
    const onNode = () => f.nodes.get(first?.node ?? '')?.engine.ids() ?? [];
    await f.kube.delete(SANDBOX_CLAIMS, 'default', first?.name ?? '');
    await reconcileClaim(f.ctx, 'default', first?.name ?? '');
    assert.equal(await f.claim(first?.name ?? ''), undefined);
    assert.ok(!onNode().includes(first?.sandboxID ?? ''));
    assert.equal(await f.kube.get(SECRETS, 'default', `${first?.name}-sandbox-token`), undefined);
    assert.ok(onNode().includes(second?.sandboxID ?? ''));

    await reconcileFork(f.ctx, 'default', 'fk');
    await reconcileFork(f.ctx, 'default', 'fk');
    const status = (await fork(f))?.status;
    assert.deepEqual(
      status?.forks?.map((c) => [c.name, c.phase]),
      [
        [first?.name, 'Terminated'],
        [second?.name, 'Ready'],
      ],
    );
    assert.equal(status?.readyForks, 1);
    assert.equal(status?.totalForks, 2);
    assert.equal(await f.claim(first?.name ?? ''), undefined, 'a terminated child is not recreated');
    assert.equal(status?.conditions?.find((c) => c.type === 'Ready')?.message, '1/2 forks ready, 1 terminated');

    await f.kube.delete(SANDBOX_CLAIMS, 'default', second?.name ?? '');
    await reconcileClaim(f.ctx, 'default', second?.name ?? '');
    await reconcileFork(f.ctx, 'default', 'fk');
    assert.equal(await fork(f), undefined, 'the fork goes with its last child');
    assert.ok(!onNode().includes(second?.sandboxID ?? ''));
  });

  it('never adopts a claim that squats a child name; the other children are still made', async () => {
    const f = await setup();
    await f.createClaim('fk-fork-0', 'p1');
    await reconcileClaim(f.ctx, 'default', 'fk-fork-0');
    const squatter = await f.claim('fk-fork-0');
    await createFork(f, 2);
    const r = await reconcileFork(f.ctx, 'default', 'fk');
    assert.equal(r.requeueAfterMs, 5_000);
    const status = (await fork(f))?.status;
    assert.deepEqual(
      status?.forks?.map((c) => c.name),
      ['fk-fork-1'],
    );
    assert.equal(status?.conditions?.find((c) => c.type === 'Ready')?.reason, 'ChildNameTaken');
    const after = await f.claim('fk-fork-0');
    assert.equal(after?.status?.sandboxID, squatter?.status?.sandboxID, 'untouched');
    assert.equal(after?.metadata.ownerReferences, undefined);
  });

  it('forks a fork child like any claim', async () => {
    const f = await setup();
    await createFork(f, 1);
    await reconcileFork(f.ctx, 'default', 'fk');
    await f.kube.create<SandboxFork>(SANDBOX_FORKS, {
      metadata: { name: 'fk2', namespace: 'default' },
      spec: { sourceRef: { name: 'fk-fork-0' }, replicas: 1 },
    });
    await reconcileFork(f.ctx, 'default', 'fk2');
    const grandchild = await f.claim('fk2-fork-0');
    assert.equal(grandchild?.status?.phase, 'Ready');
    assert.ok(
      f.nodes
        .get(grandchild?.status?.node ?? '')
        ?.engine.ids()
        .includes(grandchild?.status?.sandboxID ?? ''),
    );
  });

  it('on deletion terminates every child and deletes their claims, whose finalizers remove the Secrets', async () => {
    const f = await setup();
    await createFork(f, 2);
    await reconcileFork(f.ctx, 'default', 'fk');
    const children = (await fork(f))?.status?.forks ?? [];
    await f.kube.delete(SANDBOX_FORKS, 'default', 'fk');
    await reconcileFork(f.ctx, 'default', 'fk');
    assert.equal(await fork(f), undefined);
    for (const c of children) {
      assert.ok(!f.nodes.get(c.node)?.engine.ids().includes(c.sandboxID));
      await reconcileClaim(f.ctx, 'default', c.name);
      assert.equal(await f.claim(c.name), undefined);
      assert.equal(await f.kube.get(SECRETS, 'default', `${c.name}-sandbox-token`), undefined);
    }
  });
});
