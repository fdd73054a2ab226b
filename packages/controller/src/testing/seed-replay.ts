/**
 * The seed Python client's cluster-mode calls replayed against our controller (SeedClient), as
 * a user holding only the SDK role: the README's fork example end to end — fork, exec in a
 * child, info/from_name/list on a child, terminate(outputs=...) of one child, terminate of the
 * source — with the object shapes of crd-v1.md 9. Between them, another namespace tries to
 * reach these sandboxes through forks of its own.
 * @module
 */
import assert from 'node:assert/strict';
import { tokenSecretName } from '../api/group.js';
import type { SandboxClaim, SandboxFork } from '../api/v1alpha1/index.js';
import { SANDBOX_CLAIMS, SANDBOX_FORKS, SECRETS } from '../kube/resources.js';
import type { ClusterEnv, ContractTest } from './contract.js';
import { eventually, required } from './contract-steps.js';
import { SeedClient, type SeedHandle } from './seed-client.js';

export function seedClientReplay(test: ContractTest): void {
  const state: { source?: SeedHandle; fork?: string; children?: SeedHandle[]; node?: string } = {};
  const seed = (e: ClusterEnv) => new SeedClient(e.userKube, e.namespace);

  test('seed client: sandbox(image, ready=True) and exec, with the pool_status it reads', async (e) => {
    const client = seed(e);
    const pool = await client.ensureDefaultPool('python', 'python');
    const source = await client.sandbox(pool, e.readyTimeoutMs);
    state.source = source;
    assert.equal((await client.exec(source, "python3 -c 'print(2+2)'")).stdout, '4\n');
    state.node = (await client.info(source)).node;
    const status = await client.poolStatus(pool);
    assert.equal(status.desired, 1);
    assert.ok(status.ready >= 1 && Object.keys(status.nodes).length >= 1);
  });

  test('seed client: fork(2) gives children it can exec in with their own tokens', async (e) => {
    const client = seed(e);
    const source = required(state.source);
    const { fork, children } = await client.fork(source, 2, e.readyTimeoutMs);
    state.fork = fork;
    state.children = children;
    assert.deepEqual(
      children.map((c) => c.name),
      [`${fork}-fork-0`, `${fork}-fork-1`],
    );
    for (const child of children) {
      assert.match(child.token ?? '', /^[0-9a-f]{64}$/, 'the child Secret exists when the entry is Ready');
      assert.notEqual(child.token, source.token);
      assert.equal((await client.exec(child, 'echo from-seed-fork')).stdout, 'from-seed-fork\n');
      await client.writeFile(child, '/workspace/who.txt', child.name);
      assert.equal(await client.readFile(child, '/workspace/who.txt'), child.name);
    }
  });

  test('seed client: info(), from_name() and list() on a child read its SandboxClaim', async (e) => {
    const client = seed(e);
    const [child] = required(state.children);
    const info = await client.info(required(child));
    assert.equal(info.phase, 'Ready');
    assert.equal(info.node, state.node);
    assert.equal(info.sandboxId, required(child).sandboxId);
    assert.equal(info.endpoint, required(child).endpoint);

    // A new handle by name, as from another process: it resolves the id through the claim.
    const again = await client.fromName(required(child).name);
    assert.equal(again.pool, required(state.source).pool);
    assert.equal(again.token, required(child).token);
    assert.equal((await client.exec(again, 'echo by-name')).stdout, 'by-name\n');

    const listed = await client.list();
    for (const c of required(state.children)) {
      assert.deepEqual(
        listed.find((l) => l.name === c.name),
        { name: c.name, pool: required(state.source).pool, phase: 'Ready' },
      );
    }
  });

  test('another namespace can neither fork these sandboxes nor reach a child through a same-named fork', async (e) => {
    const other = e.otherNamespace;
    const [child] = required(state.children);
    const forkStatus = async (name: string) =>
      (await e.kube.get<SandboxFork>(SANDBOX_FORKS, other, name))?.status?.conditions?.find((c) => c.type === 'Ready');
    // A sourceRef is read in the fork's own namespace, where this claim does not exist.
    await e.kube.create<SandboxFork>(SANDBOX_FORKS, {
      metadata: { name: 'reach-across', namespace: other },
      spec: { sourceRef: { name: required(state.source).name }, replicas: 1 },
    });
    await eventually(e.settleMs, async () => (await forkStatus('reach-across'))?.reason === 'SourceNotFound');

    // Its own sandbox on the same node, forked under exactly this tenant's fork name.
    const tenant = new SeedClient(e.kube, other);
    const pool = await tenant.ensureDefaultPool('python', 'python');
    await e.kube.create<SandboxClaim>(SANDBOX_CLAIMS, {
      metadata: { name: 'tenant-source', namespace: other },
      spec: { poolRef: { name: pool }, nodeName: required(state.node) },
    });
    const theirs = await tenant.waitUntilReady({ name: 'tenant-source', pool, phase: 'Pending' }, e.readyTimeoutMs);
    assert.equal((await tenant.info(theirs)).node, state.node);
    await e.kube.create<SandboxFork>(SANDBOX_FORKS, {
      metadata: { name: required(state.fork), namespace: other },
      spec: { sourceRef: { name: 'tenant-source' }, replicas: 1 },
    });
    // Its children are its own: same names, other sandboxes.
    await eventually(e.settleMs, async () => (await forkStatus(required(state.fork)))?.status === 'True');
    const twin = await e.kube.get<SandboxClaim>(SANDBOX_CLAIMS, other, required(child).name);
    assert.ok(twin?.status?.sandboxID && twin.status.sandboxID !== required(child).sandboxId);
    const client = seed(e);
    assert.equal((await client.exec(required(child), 'echo still-mine')).stdout, 'still-mine\n');

    // Its cleanup ends its own sandboxes and spares ours.
    await e.kube.delete(SANDBOX_FORKS, other, 'reach-across');
    await tenant.terminate(theirs);
    await eventually(
      e.settleMs,
      async () => (await e.kube.get(SANDBOX_FORKS, other, required(state.fork))) === undefined,
    );
    await eventually(e.settleMs, async () => (await e.kube.get(SANDBOX_CLAIMS, other, 'tenant-source')) === undefined);
    assert.equal((await client.exec(required(child), 'echo still-mine')).stdout, 'still-mine\n');
    await eventually(e.settleMs, async () => {
      const left = await e.nodeSandboxes(required(state.node));
      return left.includes(required(child).sandboxId ?? '') && !left.includes(twin.status?.sandboxID ?? '');
    });
  });

  test('seed client: terminate(outputs=...) of one child ends that child only', async (e) => {
    const client = seed(e);
    const [first, second] = required(state.children);
    const workspace = await client.terminate(required(first), ['/workspace/out']);
    assert.equal(workspace, undefined, 'a child has no workspace');
    await eventually(
      e.settleMs,
      async () => (await e.kube.get(SANDBOX_CLAIMS, e.namespace, required(first).name)) === undefined,
    );
    await eventually(
      e.settleMs,
      async () => !(await e.nodeSandboxes(required(state.node))).includes(required(first).sandboxId ?? ''),
    );
    await eventually(
      e.settleMs,
      async () => (await e.kube.get(SECRETS, e.namespace, tokenSecretName(required(first).name))) === undefined,
    );
    await eventually(e.settleMs, async () => {
      const fork = await e.kube.get<SandboxFork>(SANDBOX_FORKS, e.namespace, required(state.fork));
      return fork?.status?.forks?.find((f) => f.name === required(first).name)?.phase === 'Terminated';
    });
    assert.equal((await client.exec(required(second), 'echo alive')).stdout, 'alive\n');
    assert.equal((await client.exec(required(state.source), 'echo alive')).stdout, 'alive\n');
    await assert.rejects(client.info(required(first)), { status: 404 });
  });

  test('seed client: terminate() of the source ends its fork and the remaining child', async (e) => {
    const client = seed(e);
    const source = required(state.source);
    const [, second] = required(state.children);
    await client.terminate(source);
    const names = [source.name, required(second).name];
    for (const name of names) {
      await eventually(e.settleMs, async () => (await e.kube.get(SANDBOX_CLAIMS, e.namespace, name)) === undefined);
      await eventually(
        e.settleMs,
        async () => (await e.kube.get(SECRETS, e.namespace, tokenSecretName(name))) === undefined,
      );
    }
    await eventually(
      e.settleMs,
      async () => (await e.kube.get(SANDBOX_FORKS, e.namespace, required(state.fork))) === undefined,
    );
    await eventually(e.settleMs, async () => {
      const left = await e.nodeSandboxes(required(state.node));
      return [source.sandboxId, required(second).sandboxId].every((id) => !left.includes(id ?? ''));
    });
    const claims = await e.kube.list<SandboxClaim>(SANDBOX_CLAIMS, e.namespace);
    assert.ok(!claims.items.some((c) => c.metadata.name?.startsWith(required(state.fork))));
  });
}
