/**
 * Contract steps for template distribution: a spec template built on one node reaches the other
 * node by transfer (its blobs checked by digest), not by a second build, and a claim placed on
 * that node runs on it; a node that joins with an empty image cache gets a built-in by transfer.
 * @module
 */
import assert from 'node:assert/strict';
import { ANNOTATION_NODE_CAPACITY, LABEL_NODE } from '../api/group.js';
import type { Lease } from '../api/meta.js';
import type { SandboxClaim, SandboxPool, SandboxTemplate } from '../api/v1alpha1/index.js';
import { LEASES, SANDBOX_CLAIMS, SANDBOX_POOLS, SANDBOX_TEMPLATES } from '../kube/resources.js';
import type { NodeCapacity } from '../node/node-sandboxes.js';
import type { ClusterEnv, ContractTest } from './contract.js';
import { eventually } from './contract-steps.js';

/** Both tiers run the controller and register the nodes there. */
const CONTROLLER_NAMESPACE = 'mitos-system';

async function capacities(e: ClusterEnv, also: readonly string[] = []): Promise<Map<string, NodeCapacity>> {
  const leases = await e.kube.list<Lease>(LEASES, CONTROLLER_NAMESPACE);
  const out = new Map<string, NodeCapacity>();
  for (const lease of leases.items) {
    const raw = lease.metadata.annotations?.[ANNOTATION_NODE_CAPACITY];
    const name = lease.metadata.labels?.[LABEL_NODE] ?? lease.spec?.holderIdentity;
    if (raw && name && (e.nodeNames.includes(name) || also.includes(name)))
      out.set(name, JSON.parse(raw) as NodeCapacity);
  }
  return out;
}

export function distributionSteps(test: ContractTest): void {
  test('a spec template built on one node is fetched by the other (not rebuilt there) and serves a claim there', async (e) => {
    await e.kube.create<SandboxTemplate>(SANDBOX_TEMPLATES, {
      metadata: { name: 'distributed', namespace: e.namespace },
      spec: {
        image: 'base',
        buildSteps: [{ type: 'run', run: 'echo built-once > /built-once' }],
      },
    });
    await e.kube.create<SandboxPool>(SANDBOX_POOLS, {
      metadata: { name: 'distributed', namespace: e.namespace },
      spec: { templateRef: { name: 'distributed' }, replicas: 2 },
    });
    let image = '';
    let builtOn = '';
    let fetchedOn = '';
    await eventually(e.readyTimeoutMs * 2, async () => {
      const pool = await e.kube.get<SandboxPool>(SANDBOX_POOLS, e.namespace, 'distributed');
      image = pool?.status?.templateDigest ?? '';
      if (Object.keys(pool?.status?.nodeDistribution ?? {}).length !== 2 || !image.startsWith('spec-')) return false;
      const nodes = [...(await capacities(e))];
      const fetched = nodes.filter(([, c]) => c.fetched?.includes(image)).map(([n]) => n);
      const built = nodes.filter(([, c]) => c.templates[image] === 'ready' && !c.fetched?.includes(image));
      [fetchedOn, builtOn] = [fetched[0] ?? '', built[0]?.[0] ?? ''];
      return fetched.length === 1 && built.length === 1;
    });
    assert.notEqual(fetchedOn, builtOn);

    // A claim placed on the node that fetched it gets a sandbox of it there.
    await e.kube.create<SandboxClaim>(SANDBOX_CLAIMS, {
      metadata: { name: 'distributed-claim', namespace: e.namespace },
      spec: { poolRef: { name: 'distributed' }, nodeName: fetchedOn },
    });
    await eventually(e.readyTimeoutMs, async () => {
      const claim = await e.kube.get<SandboxClaim>(SANDBOX_CLAIMS, e.namespace, 'distributed-claim');
      return claim?.status?.phase === 'Ready';
    });
    const claim = await e.kube.get<SandboxClaim>(SANDBOX_CLAIMS, e.namespace, 'distributed-claim');
    assert.equal(claim?.status?.node, fetchedOn);
    assert.ok((await e.nodeSandboxes(fetchedOn)).includes(claim?.status?.sandboxID ?? ''));
    const sb = await e.agentRun().fromName('distributed-claim');
    assert.equal((await sb.exec('echo on-the-fetching-node')).stdout, 'on-the-fetching-node\n');
    await sb.terminate();
    await e.kube.delete(SANDBOX_POOLS, e.namespace, 'distributed');
    await eventually(
      e.settleMs,
      async () => (await e.kube.get(SANDBOX_POOLS, e.namespace, 'distributed')) === undefined,
    );
  });

  test('a claim placed on a node outside the pool’s holders fetches the template there before it is Ready', async (e) => {
    await e.kube.create<SandboxTemplate>(SANDBOX_TEMPLATES, {
      metadata: { name: 'outside', namespace: e.namespace },
      spec: { image: 'base', buildSteps: [{ type: 'run', run: 'echo held-once > /held-once' }] },
    });
    await e.kube.create<SandboxPool>(SANDBOX_POOLS, {
      metadata: { name: 'outside', namespace: e.namespace },
      spec: { templateRef: { name: 'outside' }, replicas: 1 },
    });
    let holder = '';
    let image = '';
    await eventually(e.readyTimeoutMs * 2, async () => {
      const pool = await e.kube.get<SandboxPool>(SANDBOX_POOLS, e.namespace, 'outside');
      image = pool?.status?.templateDigest ?? '';
      holder = Object.keys(pool?.status?.nodeDistribution ?? {})[0] ?? '';
      return holder !== '' && image.startsWith('spec-');
    });
    const outside = e.nodeNames.find((n) => n !== holder) ?? '';
    assert.equal((await capacities(e)).get(outside)?.templates[image], undefined, 'the other node lacks it');

    await e.kube.create<SandboxClaim>(SANDBOX_CLAIMS, {
      metadata: { name: 'outside-claim', namespace: e.namespace },
      spec: { poolRef: { name: 'outside' }, nodeName: outside },
    });
    const reasons = new Set<string>();
    await eventually(e.readyTimeoutMs * 2, async () => {
      const claim = await e.kube.get<SandboxClaim>(SANDBOX_CLAIMS, e.namespace, 'outside-claim');
      const reason = claim?.status?.conditions?.find((c) => c.type === 'Ready')?.reason;
      if (reason) reasons.add(reason);
      assert.notEqual(claim?.status?.phase, 'Failed', JSON.stringify(claim?.status));
      return claim?.status?.phase === 'Ready';
    });
    const claim = await e.kube.get<SandboxClaim>(SANDBOX_CLAIMS, e.namespace, 'outside-claim');
    assert.equal(claim?.status?.node, outside);
    // Fetched, not built: the node reports it among the images it took from another node.
    await eventually(e.settleMs, async () => (await capacities(e)).get(outside)?.fetched?.includes(image) === true);
    assert.ok(!reasons.has('TemplateBuilding') && !reasons.has('TemplateBuildingLocally'), [...reasons].join());
    const sb = await e.agentRun().fromName('outside-claim');
    assert.equal((await sb.exec('echo on-the-outside-node')).stdout, 'on-the-outside-node\n');
    await sb.terminate();
    await e.kube.delete(SANDBOX_POOLS, e.namespace, 'outside');
    await eventually(e.settleMs, async () => (await e.kube.get(SANDBOX_POOLS, e.namespace, 'outside')) === undefined);
  });

  // Last of the suite: the joined node stays in the Leases for a while after it stops.
  test(
    'a node that joins with an empty image cache gets the built-in `base` by transfer (no build) and serves a claim',
    async (e) => {
      const joined = await e.joinNode?.('node-c', 'mitos.run/test-tier=fresh');
      assert.ok(joined);
      try {
        await e.kube.create<SandboxTemplate>(SANDBOX_TEMPLATES, {
          metadata: { name: 'fresh-base', namespace: e.namespace },
          spec: { image: 'base' },
        });
        await e.kube.create<SandboxPool>(SANDBOX_POOLS, {
          metadata: { name: 'fresh-base', namespace: e.namespace },
          spec: {
            templateRef: { name: 'fresh-base' },
            replicas: 1,
            placement: { nodeSelector: { 'mitos.run/test-tier': 'fresh' } },
          },
        });
        const reasons = new Set<string>();
        await eventually(e.readyTimeoutMs * 2, async () => {
          const pool = await e.kube.get<SandboxPool>(SANDBOX_POOLS, e.namespace, 'fresh-base');
          const ready = pool?.status?.conditions?.find((c) => c.type === 'Ready');
          if (ready?.reason) reasons.add(ready.reason);
          assert.notEqual(ready?.reason, 'TemplateFailed', ready?.message);
          return Object.keys(pool?.status?.nodeDistribution ?? {}).includes('node-c');
        });
        // Fetched from a node that had it in its image cache: never built there (it has no mirror).
        assert.ok(reasons.has('TemplateFetching'), [...reasons].join());
        assert.ok(!reasons.has('TemplateBuildingLocally'), [...reasons].join());
        await eventually(e.settleMs, async () => {
          const c = (await capacities(e, ['node-c'])).get('node-c');
          return c?.fetched?.includes('base') === true && c.cachedImages?.includes('base') === true;
        });

        await e.kube.create<SandboxClaim>(SANDBOX_CLAIMS, {
          metadata: { name: 'fresh-claim', namespace: e.namespace },
          spec: { poolRef: { name: 'fresh-base' }, nodeName: 'node-c' },
        });
        await eventually(e.readyTimeoutMs, async () => {
          const claim = await e.kube.get<SandboxClaim>(SANDBOX_CLAIMS, e.namespace, 'fresh-claim');
          assert.notEqual(claim?.status?.phase, 'Failed', JSON.stringify(claim?.status));
          return claim?.status?.phase === 'Ready';
        });
        const sb = await e.agentRun().fromName('fresh-claim');
        assert.equal(sb.node, 'node-c');
        assert.match((await sb.exec('cat /etc/debian_version')).stdout, /^12\./);
        await sb.terminate();
        await e.kube.delete(SANDBOX_POOLS, e.namespace, 'fresh-base');
        await eventually(
          e.settleMs,
          async () => (await e.kube.get(SANDBOX_POOLS, e.namespace, 'fresh-base')) === undefined,
        );
      } finally {
        await joined.stop();
      }
    },
    'joinNode',
  );
}
