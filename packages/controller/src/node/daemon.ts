/**
 * The node daemon (`mitos-node`): one per host. It serves two ports over one engine:
 *  - the sandbox API (the standalone server's handler, crd-v1.md 11.2) where every request that
 *    names a sandbox must carry that sandbox's token, and every other route the node key;
 *  - the control API (control-api.ts), node key only, which the controller drives.
 * It registers itself with a Lease so the controller can find and place work on it.
 * @module
 */
import type { Server } from 'node:http';
import { join } from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import type { Engine } from '@mitos/engine';
import { formatHost, listen, type RunningServer, startServer } from '@mitos/server';
import type { Database } from 'better-sqlite3';
import type { Logger } from 'pino';
import type { KubeClient } from '../kube/client.js';
import { withClaimEnv } from './claim-env.js';
import { createControlApi } from './control-api.js';
import { SandboxLedger } from './ledger.js';
import { NodeSandboxes } from './node-sandboxes.js';
import { NodeRegistration } from './registration.js';

export interface NodeDaemonOptions {
  engine: Engine;
  db: Database;
  kube: KubeClient;
  logger: Logger;
  nodeName: string;
  /** Namespace of the controller, where the registration Lease goes. */
  namespace: string;
  nodeKey: string;
  /** Directory for the sandbox ledger; undefined keeps it in memory (tests). */
  stateDir: string | undefined;
  /** Listen address for both ports. Default 0.0.0.0. */
  listenHost?: string;
  /** Host other machines (the SDK, the controller) reach this node at. Default 127.0.0.1. */
  advertiseHost?: string;
  /** 0 picks a free port. Default 9091. */
  sandboxPort?: number;
  /** 0 picks a free port. Default 9090. */
  controlPort?: number;
  labels?: Record<string, string>;
  maxSandboxes?: number;
  /** Lease renewal period. Default 10 s. */
  heartbeatMs?: number;
}

export interface RunningNodeDaemon {
  sandboxEndpoint: string;
  controlEndpoint: string;
  sandboxes: NodeSandboxes;
  /** Stops both ports and the heartbeat; the engine and its sandboxes are left alone. */
  close(): Promise<void>;
}

export async function startNodeDaemon(o: NodeDaemonOptions): Promise<RunningNodeDaemon> {
  const listenHost = o.listenHost ?? '0.0.0.0';
  const advertise = o.advertiseHost ?? '127.0.0.1';
  const ledger = SandboxLedger.open(o.stateDir === undefined ? undefined : join(o.stateDir, 'node-ledger.json'));
  const sandboxes = new NodeSandboxes(o.engine, ledger, o.maxSandboxes ?? 64, (msg, fields) =>
    o.logger.info({ node: o.nodeName, ...fields }, msg),
  );

  const sandboxServer: RunningServer = await startServer({
    engine: withClaimEnv(o.engine, sandboxes.claimEnv),
    db: o.db,
    host: listenHost,
    port: o.sandboxPort ?? 9091,
    apiKeys: [o.nodeKey],
    sandboxTokens: ledger,
    logger: o.logger,
  });
  const control = createAdaptorServer({
    fetch: createControlApi({
      sandboxes,
      nodeName: o.nodeName,
      nodeKey: o.nodeKey,
      onError: (err) => o.logger.error({ err: String(err) }, 'control API error'),
    }).fetch,
    hostname: listenHost,
  }) as Server;
  const controlPort = await listen(control, listenHost, o.controlPort ?? 9090);

  const sandboxEndpoint = `${formatHost(advertise)}:${sandboxServer.port}`;
  const controlEndpoint = `${formatHost(advertise)}:${controlPort}`;
  const registration = new NodeRegistration({
    client: o.kube,
    namespace: o.namespace,
    nodeName: o.nodeName,
    labels: o.labels ?? {},
    sandboxEndpoint,
    controlEndpoint,
    capacity: () => sandboxes.capacity(),
    ...(o.heartbeatMs !== undefined && { intervalMs: o.heartbeatMs }),
    onError: (err) => o.logger.warn({ err: String(err) }, 'lease renewal failed'),
  });
  try {
    await registration.start();
  } catch (err) {
    await sandboxServer.close();
    await new Promise<void>((resolve) => control.close(() => resolve()));
    throw err;
  }
  o.logger.info({ node: o.nodeName, sandboxEndpoint, controlEndpoint }, 'node daemon registered');

  let closing: Promise<void> | undefined;
  return {
    sandboxEndpoint,
    controlEndpoint,
    sandboxes,
    close: () => {
      closing ??= (async () => {
        await registration.stop();
        control.closeAllConnections();
        await new Promise<void>((resolve) => control.close(() => resolve()));
        await sandboxServer.close();
      })();
      return closing;
    },
  };
}
