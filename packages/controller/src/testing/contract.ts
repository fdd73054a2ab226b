/**
 * The cluster-mode contract (crd-v1.md 10.6), written once and run against two environments:
 * the in-memory fake (unit tier) and a real kube-apiserver with node daemons running real
 * sandboxes (integration tier). Everything goes through the SDK's AgentRun, as a user would.
 * @module
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AgentRun, ClusterSandbox } from '@mitos/sdk';
import { skipUnlessAvailable } from '@mitos/testkit';
import { FINALIZER_CLAIM, tokenSecretName } from '../api/group.js';
import type { SandboxClaim, SandboxFork, SandboxPool, SandboxTemplate } from '../api/v1alpha1/index.js';
import type { KubeClient } from '../kube/client.js';
import { SANDBOX_CLAIMS, SANDBOX_FORKS, SANDBOX_POOLS, SANDBOX_TEMPLATES, SECRETS } from '../kube/resources.js';
import { bindingSteps } from './contract-binding.js';
import { deliverySteps } from './contract-delivery.js';
import { distributionSteps } from './contract-distribution.js';
import { eventually, required, tokenOf } from './contract-steps.js';
import { workspaceSteps } from './contract-workspaces.js';
import { seedClientReplay } from './seed-replay.js';

export interface ClusterEnv {
  namespace: string;
  agentRun(options?: { allowDefaultPool?: boolean }): AgentRun;
  /** Full-access client for assertions. */
  kube: KubeClient;
  /** An SDK user's identity: in the real tier it holds only the mitos-sandbox-user role. */
  userKube: KubeClient;
  /** Another tenant's namespace (exists; empty at the start). */
  otherNamespace: string;
  nodeNames: string[];
  /** A node carrying the label `mitos.run/test-tier=gold`. */
  goldNode: string;
  /** Sandbox ids on a node right now. */
  nodeSandboxes(node: string): Promise<string[]>;
  /**
   * Starts one more node daemon (real tier) whose image cache is its own and empty and that has
   * no Debian mirror; stop() ends it. Absent in the fake tier, whose scripted engines keep no
   * image cache.
   */
  joinNode?(name: string, label: string): Promise<{ controlEndpoint: string; stop(): Promise<void> }>;
  readyTimeoutMs: number;
  /** How long eventual effects (finalizers, cleanup) may take. */
  settleMs: number;
  stop(): Promise<void>;
}

export type EnvFactory = () => Promise<ClusterEnv | { skip: string }>;

/**
 * Registers one step of the suite; steps run in order and may use what earlier ones made. A step
 * that `needs` joinNode is part of a tier that joins nodes (the real one) only: the fake tier's
 * scripted engines keep no image cache to move between nodes.
 */
export type ContractTest = (name: string, fn: (env: ClusterEnv) => Promise<void>, needs?: 'joinNode') => void;

/** Registers the contract suite; `start` runs once before it, `stop` after. */
export function clusterContract(
  title: string,
  start: EnvFactory,
  options: { timeoutMs: number; joinsNodes?: boolean },
): void {
  let env: ClusterEnv | undefined;
  let skip: string | undefined;

  describe(title, { timeout: options.timeoutMs }, () => {
    before(async () => {
      const started = await start();
      // A cluster that MITOS_REQUIRE says this host must run fails here instead of skipping.
      if ('skip' in started) skip = skipUnlessAvailable('kube', started.skip) || started.skip;
      else env = started;
    });
    after(async () => {
      await env?.stop();
    });

    const state: { sb?: ClusterSandbox; kids?: ClusterSandbox[]; forkName?: string } = {};
    const test: ContractTest = (name, fn, needs) => {
      if (needs === 'joinNode' && !options.joinsNodes) return;
      it(name, async (t) => {
        if (skip !== undefined || !env) {
          t.skip(skip ?? 'environment did not start');
          return;
        }
        await fn(env);
      });
    };

    test("sandbox('python', {ready: true}) creates the default pool and a claim, reaches Ready, and exec returns 4", async (e) => {
      const run = e.agentRun();
      const sb = await run.sandbox('python', { ready: true, readyTimeoutMs: e.readyTimeoutMs });
      state.sb = sb;
      const template = await e.kube.get<SandboxTemplate>(SANDBOX_TEMPLATES, e.namespace, 'mitos-default-python');
      assert.equal(template?.spec.image, 'python');
      const pool = await e.kube.get<SandboxPool>(SANDBOX_POOLS, e.namespace, 'mitos-default-python');
      assert.equal(pool?.spec.templateRef.name, 'mitos-default-python');

      const claim = await e.kube.get<SandboxClaim>(SANDBOX_CLAIMS, e.namespace, sb.name);
      assert.equal(claim?.status?.phase, 'Ready');
      assert.match(claim?.status?.endpoint ?? '', /^[^:/]+:\d+$/, 'a bare host:port');
      assert.equal(claim?.status?.sandboxID, sb.sandboxId);
      assert.ok(e.nodeNames.includes(claim?.status?.node ?? ''));
      assert.ok(claim?.metadata.finalizers?.includes(FINALIZER_CLAIM));
      assert.match(await tokenOf(e, sb.name), /^[0-9a-f]{64}$/);

      const result = await sb.exec("python3 -c 'print(2+2)'");
      assert.equal(result.stdout, '4\n');
      assert.equal(result.exitCode, 0);
    });

    test('the sandbox API opens a sandbox only with its own bearer token', async (e) => {
      const sb = required(state.sb);
      const call = (token?: string) =>
        fetch(`http://${sb.endpoint}/v1/exec`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(token !== undefined && { authorization: `Bearer ${token}` }),
          },
          body: JSON.stringify({ sandbox: sb.sandboxId, command: 'echo hi' }),
        });
      assert.equal((await call()).status, 401);
      assert.equal((await call('f'.repeat(64))).status, 401);
      assert.equal((await call(await tokenOf(e, sb.name))).status, 200);
    });

    test("fork(2) yields two Ready children on the parent's node, each with its own token", async (e) => {
      const sb = required(state.sb);
      const kids = await sb.fork(2, { timeoutMs: e.readyTimeoutMs });
      state.kids = kids;
      assert.equal(kids.length, 2);
      const forks = (await e.kube.list<SandboxFork>(SANDBOX_FORKS, e.namespace)).items;
      state.forkName = forks.find((f) => f.spec.sourceRef.name === sb.name)?.metadata.name;
      assert.ok(state.forkName);
      const tokens = new Set([await tokenOf(e, sb.name)]);
      for (const kid of kids) {
        assert.equal(kid.node, sb.node);
        assert.notEqual(kid.sandboxId, sb.sandboxId);
        assert.equal((await kid.exec('echo from-fork')).stdout, 'from-fork\n');
        tokens.add(await tokenOf(e, kid.name));
      }
      assert.equal(tokens.size, 3, 'every sandbox has its own token');
      const onNode = await e.nodeSandboxes(sb.node);
      for (const kid of kids) assert.ok(onNode.includes(kid.sandboxId));
      const crossed = await fetch(`http://${sb.endpoint}/v1/exec`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${await tokenOf(e, required(kids[0]).name)}`,
        },
        body: JSON.stringify({ sandbox: sb.sandboxId, command: 'echo hi' }),
      });
      assert.equal(crossed.status, 401, "a child's token does not open its parent");
    });

    test('a fork child is a SandboxClaim: info() and fromName() read it, terminate() ends that child only', async (e) => {
      const [first, second] = required(state.kids);
      const sb = required(state.sb);
      const info = await required(first).info();
      assert.equal(info.phase, 'Ready');
      assert.equal(info.pool, sb.pool);
      assert.equal(info.sandboxId, required(first).sandboxId);
      assert.equal(info.node, sb.node);
      const again = await e.agentRun().fromName(required(second).name);
      assert.equal((await again.exec('echo by-name')).stdout, 'by-name\n');

      const id = required(first).sandboxId;
      await required(first).terminate();
      await eventually(e.settleMs, async () => !(await e.nodeSandboxes(sb.node)).includes(id));
      await eventually(
        e.settleMs,
        async () => (await e.kube.get(SANDBOX_CLAIMS, e.namespace, required(first).name)) === undefined,
      );
      await eventually(
        e.settleMs,
        async () => (await e.kube.get(SECRETS, e.namespace, tokenSecretName(required(first).name))) === undefined,
      );
      assert.equal((await required(second).exec('echo still-here')).stdout, 'still-here\n');
      assert.equal((await sb.exec('echo source-too')).stdout, 'source-too\n');
    });

    test("terminate() removes the claim, its forks, the children's claims, every Secret and every sandbox", async (e) => {
      const sb = required(state.sb);
      const ids = [sb.sandboxId, ...required(state.kids).map((k) => k.sandboxId)];
      await sb.terminate();
      await eventually(e.settleMs, async () => (await e.kube.get(SANDBOX_CLAIMS, e.namespace, sb.name)) === undefined);
      await eventually(
        e.settleMs,
        async () => (await e.kube.get(SANDBOX_FORKS, e.namespace, required(state.forkName))) === undefined,
      );
      for (const handle of [sb.name, ...required(state.kids).map((k) => k.name)]) {
        await eventually(
          e.settleMs,
          async () => (await e.kube.get(SECRETS, e.namespace, tokenSecretName(handle))) === undefined,
        );
        await eventually(e.settleMs, async () => (await e.kube.get(SANDBOX_CLAIMS, e.namespace, handle)) === undefined);
      }
      await eventually(e.settleMs, async () => {
        const left = await e.nodeSandboxes(sb.node);
        return ids.every((id) => !left.includes(id));
      });
    });

    seedClientReplay(test);

    test('a named sandbox can be reattached with fromName', async (e) => {
      const run = e.agentRun();
      const sb = await run.sandbox('python', { name: 'contract-named', ready: true, readyTimeoutMs: e.readyTimeoutMs });
      const again = await e.agentRun().fromName('contract-named');
      assert.equal(again.sandboxId, sb.sandboxId);
      assert.equal((await again.exec('echo reattached')).stdout, 'reattached\n');
      await again.terminate();
      await eventually(
        e.settleMs,
        async () => (await e.kube.get(SANDBOX_CLAIMS, e.namespace, 'contract-named')) === undefined,
      );
    });

    test('a pool places its sandboxes on nodes matching its label selector', async (e) => {
      await e.kube.create<SandboxTemplate>(SANDBOX_TEMPLATES, {
        metadata: { name: 'gold', namespace: e.namespace },
        spec: { image: 'python' },
      });
      await e.kube.create<SandboxPool>(SANDBOX_POOLS, {
        metadata: { name: 'gold', namespace: e.namespace },
        spec: {
          templateRef: { name: 'gold' },
          replicas: 1,
          placement: { nodeSelector: { 'mitos.run/test-tier': 'gold' } },
        },
      });
      const sb = await e.agentRun().sandbox(undefined, { pool: 'gold', ready: true, readyTimeoutMs: e.readyTimeoutMs });
      assert.equal(sb.node, e.goldNode);
      assert.equal((await sb.exec("python3 -c 'print(40+2)'")).stdout, '42\n');
      await sb.terminate();
      await e.kube.delete(SANDBOX_POOLS, e.namespace, 'gold');
      await eventually(e.settleMs, async () => (await e.kube.get(SANDBOX_POOLS, e.namespace, 'gold')) === undefined);
    });

    test('without a default pool, sandbox(image) refuses; with no image or pool it refuses too', async (e) => {
      const run = e.agentRun({ allowDefaultPool: false });
      await assert.rejects(run.sandbox('node:20'), { code: 'no_default_pool' });
      assert.equal(await e.kube.get(SANDBOX_POOLS, e.namespace, 'mitos-default-node-20'), undefined);
      await assert.rejects(run.sandbox(), { code: 'missing_image_or_pool' });
    });

    test('a claim on a missing pool stays Pending with a reason instead of failing', async (e) => {
      const sb = await e.agentRun().create('no-such-pool');
      await eventually(e.settleMs, async () => {
        const claim = await e.kube.get<SandboxClaim>(SANDBOX_CLAIMS, e.namespace, sb.name);
        return claim?.status?.conditions?.find((c) => c.type === 'Ready')?.reason === 'PoolNotFound';
      });
      await assert.rejects(sb.waitUntilReady({ timeoutMs: 300 }), { code: 'ready_timeout' });
      await sb.terminate();
      await eventually(e.settleMs, async () => (await e.kube.get(SANDBOX_CLAIMS, e.namespace, sb.name)) === undefined);
    });

    workspaceSteps(test);
    bindingSteps(test);
    deliverySteps(test);
    distributionSteps(test);
  });
}
