/**
 * The node daemon (`mitos-node`): one per host. It serves two ports over one engine, both on the
 * server's node surface (the public server's auth and error responder, the protocol's codes):
 *  - the sandbox routes alone (crd-v1.md 11.2), where every request that names a sandbox must
 *    carry that sandbox's token, and every other route the node key;
 *  - the control API (control-api.ts), node key only, which the controller drives.
 * It registers itself with a Lease so the controller can find and place work on it.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '@mitos/engine';
import { createNodeSandboxApi, formatHost, listenApi, type RunningServer } from '@mitos/server';
import type { Logger } from 'pino';
import type { KubeClient } from '../kube/client.js';
import { withClaimEnv } from './claim-env.js';
import { createControlApi } from './control-api.js';
import { SandboxLedger } from './ledger.js';
import { NodeSandboxes } from './node-sandboxes.js';
import { NodeRegistration } from './registration.js';
import { TemplateTransfer } from './template-transfer.js';

export interface NodeDaemonOptions {
  engine: Engine;
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
  // Exported and fetched template layouts live with the node's state (a scratch directory when it keeps none).
  const transferDir =
    o.stateDir === undefined
      ? join(tmpdir(), `mitos-node-templates-${process.pid}-${randomBytes(4).toString('hex')}`)
      : join(o.stateDir, 'template-transfer');
  sandboxes.transfer = new TemplateTransfer(o.engine, transferDir, o.nodeKey, o.stateDir === undefined, (msg, fields) =>
    o.logger.info({ node: o.nodeName, ...fields }, msg),
  );

  // Two ports on the server's node surface: the sandbox routes alone, and the control routes.
  const sandboxServer = await listenApi({ host: listenHost, port: o.sandboxPort ?? 9091, logger: o.logger }, () =>
    createNodeSandboxApi({
      engine: withClaimEnv(o.engine, sandboxes.claimEnv),
      nodeKey: o.nodeKey,
      sandboxTokens: ledger,
      logger: o.logger,
    }),
  );
  let control: RunningServer;
  try {
    control = await listenApi({ host: listenHost, port: o.controlPort ?? 9090, logger: o.logger }, () =>
      createControlApi({ sandboxes, nodeName: o.nodeName, nodeKey: o.nodeKey, logger: o.logger }),
    );
  } catch (err) {
    await sandboxServer.close();
    throw err;
  }
  const controlPort = control.port;

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
    await control.close();
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
        await control.close();
        await sandboxServer.close();
        sandboxes.transfer?.close();
      })();
      return closing;
    },
  };
}
