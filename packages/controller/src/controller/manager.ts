/**
 * The controller process: leader election, then informers feeding one rate-limited work queue
 * per kind, workers running the reconcilers, and the periodic garbage collection. Events are
 * mapped to the keys that may need work (a claim change also wakes its pool or, for a fork
 * child, its fork, and the forks of it; a node change wakes every pool and every unfinished claim).
 * @module
 */
import { hostname } from 'node:os';
import { COMPONENT_NODE, LABEL_COMPONENT } from '../api/group.js';
import type { Lease } from '../api/meta.js';
import type { SandboxClaim, SandboxFork, SandboxPool, Workspace, WorkspaceRevision } from '../api/v1alpha1/index.js';
import type { KubeClient } from '../kube/client.js';
import { Informer, objectKey } from '../kube/informer.js';
import { LeaderElector } from '../kube/leader-election.js';
import {
  LEASES,
  SANDBOX_CLAIMS,
  SANDBOX_FORKS,
  SANDBOX_POOLS,
  WORKSPACE_REVISIONS,
  WORKSPACES,
} from '../kube/resources.js';
import { WorkQueue } from '../kube/work-queue.js';
import { randomHex } from '../util/ids.js';
import { reconcileClaim } from './claim-reconciler.js';
import type { ControllerContext, Logger, ReconcileResult } from './context.js';
import { forkOfChild } from './fork-children.js';
import { reconcileFork } from './fork-reconciler.js';
import { collectGarbage } from './garbage-collector.js';
import { HttpNodeApi, type NodeApi } from './node-client.js';
import { type NodeView, nodeFromLease } from './nodes.js';
import { reconcilePool } from './pool-reconciler.js';
import { reconcileWorkspace } from './workspace-reconciler.js';

export const LEADER_LEASE_NAME = 'mitos-controller';

export interface ControllerOptions {
  kube: KubeClient;
  /** Where node Leases and the leader Lease live. */
  namespace: string;
  nodeKey: string;
  log: Logger;
  identity?: string;
  /** Workers per kind. Default 2. */
  workers?: number;
  /** Default 30 s. */
  gcIntervalMs?: number;
  /** Orphans younger than this are left alone. Default 60 s. */
  orphanMinAgeMs?: number;
  maxPendingMs?: number;
  /** Tests swap the HTTP node client. */
  nodeApi?: (node: NodeView) => NodeApi;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Called when this replica starts leading (tests wait on it). */
  onLeading?: () => void;
  /** Called when leadership ends for any reason other than `signal` aborting. */
  onStoppedLeading?: () => void;
}

/** Runs until `signal` aborts. */
export async function runController(options: ControllerOptions, signal: AbortSignal): Promise<void> {
  const identity = options.identity ?? `${hostname()}-${randomHex(4)}`;
  const elector = new LeaderElector({
    client: options.kube,
    namespace: options.namespace,
    name: LEADER_LEASE_NAME,
    identity,
    ...(options.leaseDurationMs !== undefined && { leaseDurationMs: options.leaseDurationMs }),
    ...(options.renewDeadlineMs !== undefined && { renewDeadlineMs: options.renewDeadlineMs }),
    ...(options.retryPeriodMs !== undefined && { retryPeriodMs: options.retryPeriodMs }),
    onError: (err) => options.log.warn({ err: String(err) }, 'leader election'),
  });
  await elector.run(signal, async (leadership) => {
    options.log.info({ identity }, 'leading');
    options.onLeading?.();
    await lead(options, leadership);
    options.log.info({ identity }, 'stopped leading');
    if (!signal.aborted) options.onStoppedLeading?.();
  });
}

async function lead(options: ControllerOptions, signal: AbortSignal): Promise<void> {
  const { kube, log } = options;
  const onError = (err: unknown) => log.warn({ err: String(err) }, 'watch interrupted');
  const pools = new Informer<SandboxPool>(kube, SANDBOX_POOLS, { onError });
  const claims = new Informer<SandboxClaim>(kube, SANDBOX_CLAIMS, { onError });
  const forks = new Informer<SandboxFork>(kube, SANDBOX_FORKS, { onError });
  const workspaces = new Informer<Workspace>(kube, WORKSPACES, { onError });
  const revisions = new Informer<WorkspaceRevision>(kube, WORKSPACE_REVISIONS, { onError });
  const leases = new Informer<Lease>(kube, LEASES, {
    namespace: options.namespace,
    labelSelector: `${LABEL_COMPONENT}=${COMPONENT_NODE}`,
    resyncMs: 15_000,
    onError,
  });

  const ctx: ControllerContext = {
    kube,
    log,
    now: Date.now,
    mintToken: () => randomHex(32),
    nodes: () => leases.list().flatMap((l) => nodeFromLease(l, Date.now()) ?? []),
    nodeApi: options.nodeApi ?? ((node) => new HttpNodeApi(node.name, node.controlEndpoint, options.nodeKey)),
    ...(options.maxPendingMs !== undefined && { maxPendingMs: options.maxPendingMs }),
  };

  const poolQueue = new WorkQueue();
  const claimQueue = new WorkQueue();
  const forkQueue = new WorkQueue();
  const workspaceQueue = new WorkQueue();
  const unfinished = (c: SandboxClaim) => !['Ready', 'Failed', 'Terminated'].includes(c.status?.phase ?? '');

  pools.onChange((_e, pool) => poolQueue.add(objectKey(pool)));
  claims.onChange((_e, claim) => {
    claimQueue.add(objectKey(claim));
    const parent = forkOfChild(claim);
    if (parent) forkQueue.add(`${claim.metadata.namespace}/${parent.name}`);
    else poolQueue.add(`${claim.metadata.namespace}/${claim.spec.poolRef.name}`);
    for (const fork of forks.list()) {
      if (fork.metadata.namespace === claim.metadata.namespace && fork.spec.sourceRef.name === claim.metadata.name) {
        forkQueue.add(objectKey(fork));
      }
    }
  });
  forks.onChange((_e, fork) => forkQueue.add(objectKey(fork)));
  workspaces.onChange((_e, ws) => workspaceQueue.add(objectKey(ws)));
  // Every revision maps to its workspace by spec (adoption has not labelled it yet).
  revisions.onChange((_e, rev) => {
    if (rev.spec?.workspaceRef?.name) workspaceQueue.add(`${rev.metadata.namespace}/${rev.spec.workspaceRef.name}`);
  });
  leases.onChange(() => {
    for (const pool of pools.list()) poolQueue.add(objectKey(pool));
    for (const claim of claims.list()) if (unfinished(claim)) claimQueue.add(objectKey(claim));
  });

  const poolInputs = {
    claims: (namespace: string, pool: string) =>
      claims.list().filter((c) => c.metadata.namespace === namespace && c.spec.poolRef.name === pool),
  };
  const stopInformers = new AbortController();
  const abort = () => stopInformers.abort();
  signal.addEventListener('abort', abort, { once: true });
  // Nodes first, so the first reconciles already see them.
  await leases.start(stopInformers.signal);
  await Promise.all([
    pools.start(stopInformers.signal),
    claims.start(stopInformers.signal),
    forks.start(stopInformers.signal),
    workspaces.start(stopInformers.signal),
    revisions.start(stopInformers.signal),
  ]);

  const workers = options.workers ?? 2;
  const running = [
    ...startWorkers('pool', poolQueue, workers, log, (ns, name) => reconcilePool(ctx, poolInputs, ns, name)),
    ...startWorkers('claim', claimQueue, workers, log, (ns, name) => reconcileClaim(ctx, ns, name)),
    ...startWorkers('fork', forkQueue, workers, log, (ns, name) => reconcileFork(ctx, ns, name)),
    ...startWorkers('workspace', workspaceQueue, 1, log, (ns, name) => reconcileWorkspace(ctx, ns, name)),
  ];
  const gc = setInterval(() => {
    const ready = () => claims.list().filter((c) => c.status?.phase === 'Ready');
    collectGarbage(ctx, ready, options.orphanMinAgeMs).catch((err: unknown) =>
      log.warn({ err: String(err) }, 'garbage collection failed'),
    );
  }, options.gcIntervalMs ?? 30_000);

  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  clearInterval(gc);
  for (const q of [poolQueue, claimQueue, forkQueue, workspaceQueue]) q.shutDown();
  stopInformers.abort();
  await Promise.all(running);
}

function startWorkers(
  kind: string,
  queue: WorkQueue,
  count: number,
  log: Logger,
  reconcile: (namespace: string, name: string) => Promise<ReconcileResult>,
): Promise<void>[] {
  const worker = async () => {
    for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
      const [namespace = '', name = ''] = key.split('/');
      try {
        const result = await reconcile(namespace, name);
        queue.forget(key);
        if (result.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
      } catch (err) {
        log.warn({ kind, key, err: errorText(err) }, 'reconcile failed; retrying with backoff');
        queue.addRateLimited(key);
      } finally {
        queue.done(key);
      }
    }
  };
  return Array.from({ length: count }, worker);
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
