/**
 * The unit-tier environment for the contract suite: FakeKube for the API, the real controller
 * loop, and two real node daemons (HTTP control API and sandbox API with per-sandbox tokens)
 * over scripted engines. Only the apiserver and the isolation are stand-ins.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { AgentRun } from '@mitos/sdk';
import { pino } from 'pino';
import { silentLogger } from '../controller/context.js';
import { runController } from '../controller/manager.js';
import { HttpNodeApi } from '../controller/node-client.js';
import { type RunningNodeDaemon, startNodeDaemon } from '../node/daemon.js';
import { clusterApiOver } from './cluster-api.js';
import type { ClusterEnv } from './contract.js';
import { FakeKube } from './fake-kube.js';
import { createScriptedEngine } from './scripted-engine.js';

const NAMESPACE = 'mitos-system';

export async function startFakeCluster(): Promise<ClusterEnv> {
  const kube = new FakeKube();
  const nodeKey = randomBytes(16).toString('hex');
  const logger = pino({ level: 'silent' });
  const nodes: Array<{ name: string; daemon: RunningNodeDaemon }> = [];
  for (const [name, labels] of [
    ['node-a', {}],
    ['node-b', { 'mitos.run/test-tier': 'gold' }],
  ] as const) {
    nodes.push({
      name,
      daemon: await startNodeDaemon({
        engine: createScriptedEngine(),
        kube,
        logger,
        nodeName: name,
        namespace: NAMESPACE,
        nodeKey,
        stateDir: undefined,
        listenHost: '127.0.0.1',
        sandboxPort: 0,
        controlPort: 0,
        labels,
        heartbeatMs: 1_000,
      }),
    });
  }
  const stop = new AbortController();
  const controller = runController(
    { kube, namespace: NAMESPACE, nodeKey, log: silentLogger, gcIntervalMs: 1_000, retryPeriodMs: 200 },
    stop.signal,
  );
  return {
    namespace: 'default',
    kube,
    userKube: kube,
    otherNamespace: 'tenant-b',
    nodeNames: nodes.map((n) => n.name),
    goldNode: 'node-b',
    agentRun: (options = {}) => new AgentRun({ ...options, api: clusterApiOver(kube, 'default') }),
    async nodeSandboxes(name) {
      const node = nodes.find((n) => n.name === name);
      if (!node) return [];
      return (await new HttpNodeApi(name, node.daemon.controlEndpoint, nodeKey).sandboxes()).map((s) => s.id);
    },
    readyTimeoutMs: 10_000,
    settleMs: 10_000,
    async stop() {
      stop.abort();
      await controller;
      for (const n of nodes) await n.daemon.close();
    },
  };
}
