/**
 * The integration-tier environment for the contract suite: a real kube-apiserver (with RBAC,
 * the generated CRDs and the RBAC manifests from deploy/), the controller and two node daemons
 * as separate processes with the service-account identities the manifests grant, real
 * sandboxes in per-node state directories and `mitos-test-*` cgroup parents, and the SDK
 * reading a kubeconfig from $KUBECONFIG as a user's would be, for a user bound to the
 * mitos-sandbox-user role only.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentRun } from '@mitos/sdk';
import { type TestEngineEnv, testEngineEnv } from '@mitos/testkit';
import { HttpNodeApi } from '../controller/node-client.js';
import { loadKubeConfig } from '../kube/config.js';
import { RestKubeClient } from '../kube/rest-client.js';
import { type Child, startChild } from './child-process.js';
import type { ClusterEnv } from './contract.js';
import { buildKubeBinaries, type KubeCluster, repoRoot, startKubeCluster } from './kube-cluster.js';

const NAMESPACE = 'mitos-system';
const BIN = join(repoRoot, 'packages/controller/dist/bin');

interface RunningNode {
  name: string;
  engineEnv: TestEngineEnv;
  process: Child;
  controlEndpoint: string;
}

export async function startRealCluster(): Promise<ClusterEnv | { skip: string }> {
  if (process.getuid?.() !== 0) return { skip: 'node daemons run real sandboxes, which need root' };
  const built = buildKubeBinaries();
  if ('skip' in built) return built;

  const cleanups: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse())
      await cleanup().catch((err: unknown) => process.stderr.write(`cleanup: ${String(err)}\n`));
  };
  try {
    const cluster: KubeCluster = await startKubeCluster([
      join(repoRoot, 'deploy/crds'),
      join(repoRoot, 'deploy/kustomize/base/rbac.yaml'),
    ]);
    cleanups.push(() => cluster.stop());
    const keyFile = join(cluster.dir, 'node-key');
    const nodeKey = randomBytes(32).toString('hex');
    writeFileSync(keyFile, nodeKey, { mode: 0o600 });

    const startNode = async (
      name: string,
      label: string | undefined,
      env?: (stateDir: string) => NodeJS.ProcessEnv,
    ): Promise<RunningNode> => {
      const engineEnv = testEngineEnv();
      cleanups.push(() => engineEnv.cleanup());
      const args = [
        join(BIN, 'node.js'),
        `--node-name=${name}`,
        `--namespace=${NAMESPACE}`,
        `--kubeconfig=${cluster.nodeKubeconfig}`,
        `--node-key-file=${keyFile}`,
        `--state-dir=${engineEnv.stateDir}`,
        `--cgroup-parent=${engineEnv.cgroupParent}`,
        '--listen-host=127.0.0.1',
        '--advertise-host=127.0.0.1',
        '--sandbox-port=0',
        '--control-port=0',
        '--heartbeat-ms=2000',
        ...(label ? [`--label=${label}`] : []),
      ];
      const child = startChild(process.execPath, args, {
        name,
        cwd: repoRoot,
        env: { ...process.env, ...env?.(engineEnv.stateDir) },
      });
      cleanups.push(() => child.stop());
      const ready = await child.waitForLine((line) => {
        try {
          const parsed = JSON.parse(line) as { ready?: boolean; controlEndpoint?: string };
          return parsed.ready ? parsed : undefined;
        } catch {
          return undefined;
        }
      }, 60_000);
      return { name, engineEnv, process: child, controlEndpoint: ready.controlEndpoint ?? '' };
    };
    const nodes: RunningNode[] = [];
    for (const [name, label] of [
      ['node-a', undefined],
      ['node-b', 'mitos.run/test-tier=gold'],
    ] as const) {
      nodes.push(await startNode(name, label));
    }

    const controller = startChild(
      process.execPath,
      [
        join(BIN, 'controller.js'),
        `--namespace=${NAMESPACE}`,
        `--kubeconfig=${cluster.controllerKubeconfig}`,
        `--node-key-file=${keyFile}`,
        '--gc-interval-ms=5000',
      ],
      { name: 'controller', cwd: repoRoot },
    );
    cleanups.push(() => controller.stop());
    await controller.waitForLine((line) => (line.includes('"leading":true') ? true : undefined), 60_000);

    const otherNamespace = 'tenant-b';
    const made = spawnSync(
      join(cluster.bin, 'kubectl'),
      ['--kubeconfig', cluster.kubeconfig, 'create', 'namespace', otherNamespace],
      { encoding: 'utf8' },
    );
    if (made.status !== 0) throw new Error(`kubectl create namespace ${otherNamespace}: ${made.stderr}`);

    // The SDK finds the cluster the way a user's does: through $KUBECONFIG, as a user who holds
    // only the mitos-sandbox-user role.
    const previous = process.env.KUBECONFIG;
    process.env.KUBECONFIG = cluster.userKubeconfig;
    cleanups.push(async () => {
      if (previous === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = previous;
    });

    return {
      namespace: 'default',
      kube: new RestKubeClient(loadKubeConfig(cluster.kubeconfig)),
      userKube: new RestKubeClient(loadKubeConfig(cluster.userKubeconfig)),
      otherNamespace,
      nodeNames: nodes.map((n) => n.name),
      goldNode: 'node-b',
      agentRun: (options = {}) => new AgentRun(options),
      async nodeSandboxes(name) {
        const node = nodes.find((n) => n.name === name);
        if (!node) return [];
        return (await new HttpNodeApi(name, node.controlEndpoint, nodeKey).sandboxes()).map((s) => s.id);
      },
      async joinNode(name, label) {
        // A node that joins with an image cache of its own, empty, and no Debian mirror: a
        // built-in reaches it only by transfer from a node that has it.
        const node = await startNode(name, label, (stateDir) => ({
          MITOS_CACHE_DIR: join(stateDir, 'image-cache'),
          MITOS_DEBIAN_MIRROR: 'http://mirror.invalid/debian',
        }));
        nodes.push(node);
        return {
          controlEndpoint: node.controlEndpoint,
          stop: async () => {
            await node.process.stop();
            nodes.splice(nodes.indexOf(node), 1);
          },
        };
      },
      // The first sandbox on a node imports the python image into its storage.
      readyTimeoutMs: 240_000,
      settleMs: 30_000,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
