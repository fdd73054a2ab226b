/**
 * SandboxFork reconciliation (crd-v1.md 10.3, raw-node path): N live copies of a Ready claim's
 * sandbox, created on the source's node. Each child gets a name `<fork>-fork-<i>`, its own
 * token Secret owned by the fork, and a Ready entry in `status.forks`.
 *
 * Children have no API object of their own, so the SDK ends one by adding its name to the
 * fork's `mitos.run/released` annotation; the fork is deleted once every child is released.
 * Deleting the fork (or its source claim) terminates the children through the finalizer.
 * @module
 */
import { ANNOTATION_RELEASED_CHILDREN, FINALIZER_FORK, LABEL_SOURCE_CLAIM } from '../api/group.js';
import type { ForkInfo, SandboxClaim, SandboxFork, SandboxForkStatus } from '../api/v1alpha1/index.js';
import { SANDBOX_CLAIMS, SANDBOX_FORKS } from '../kube/resources.js';
import { sandboxIdFor } from '../util/ids.js';
import { ownerOf } from './claim-reconciler.js';
import { findCondition, setCondition } from './conditions.js';
import type { ControllerContext, ReconcileResult } from './context.js';
import { hasFinalizer } from './finalizers.js';
import { NodeCallError } from './node-client.js';
import { deleteTokenSecret, ensureTokenSecret } from './token-secret.js';

export function forkChildName(fork: string, index: number): string {
  return `${fork}-fork-${index}`;
}

export function releasedChildren(fork: SandboxFork): Set<string> {
  const raw = fork.metadata.annotations?.[ANNOTATION_RELEASED_CHILDREN] ?? '';
  return new Set(
    raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );
}

export async function reconcileFork(ctx: ControllerContext, namespace: string, name: string): Promise<ReconcileResult> {
  let fork = await ctx.kube.get<SandboxFork>(SANDBOX_FORKS, namespace, name);
  if (!fork) return {};
  if (fork.metadata.deletionTimestamp) return finalizeFork(ctx, fork);
  if (findCondition(fork.status?.conditions, 'Rejected')?.status === 'True') return {};

  const source = await ctx.kube.get<SandboxClaim>(SANDBOX_CLAIMS, namespace, fork.spec.sourceRef.name);
  if (!source || source.metadata.deletionTimestamp) {
    return writeForkStatus(
      ctx,
      fork,
      notReady(ctx, fork, 'SourceNotFound', `claim ${fork.spec.sourceRef.name} not found`),
      2_000,
    );
  }
  let status: SandboxForkStatus = { readyForks: 0, totalForks: 0, ...fork.status };
  if ((source.spec.secrets?.length ?? 0) > 0) {
    if (!fork.spec.allowSecretInheritance) {
      const rejected = setCondition(
        status.conditions,
        {
          type: 'Rejected',
          status: 'True',
          reason: 'SecretInheritanceDenied',
          message: 'the source claim has secrets; set spec.allowSecretInheritance to fork it',
        },
        new Date(ctx.now()),
      );
      return writeForkStatus(ctx, fork, { ...status, conditions: rejected });
    }
    status.conditions = setCondition(
      status.conditions,
      {
        type: 'SecretInheritance',
        status: 'True',
        reason: 'ExplicitOptIn',
        message: 'children inherit the source secrets',
      },
      new Date(ctx.now()),
    );
  }
  const { node: nodeName, sandboxID: sourceId } = source.status ?? {};
  if (source.status?.phase !== 'Ready' || !nodeName || !sourceId) {
    return writeForkStatus(
      ctx,
      fork,
      notReady(ctx, fork, 'SourceNotReady', `claim ${source.metadata.name} is not Ready`),
      1_000,
    );
  }
  fork = await adopt(ctx, fork, source);

  const released = releasedChildren(fork);
  const wanted = Array.from({ length: fork.spec.replicas }, (_, i) => forkChildName(name, i)).filter(
    (c) => !released.has(c),
  );
  if (wanted.length === 0) {
    await ctx.kube.delete(SANDBOX_FORKS, namespace, name);
    return {};
  }
  const node = ctx.nodes().find((n) => n.name === nodeName);
  if (!node?.healthy)
    return writeForkStatus(ctx, fork, notReady(ctx, fork, 'NodeLost', `node ${nodeName} is not healthy`), 2_000);
  const api = ctx.nodeApi(node);

  const keep: ForkInfo[] = [];
  for (const child of status.forks ?? []) {
    if (!released.has(child.name)) {
      keep.push(child);
      continue;
    }
    await api.terminate(child.sandboxID);
    await deleteTokenSecret(ctx.kube, namespace, child.name);
  }
  const missing = wanted.filter((c) => !keep.some((k) => k.name === c));
  if (missing.length > 0) {
    const children = [];
    for (const child of missing) {
      const token = await ensureTokenSecret(
        ctx.kube,
        { namespace, handle: child, endpoint: node.sandboxEndpoint, owner: ownerOf(fork, 'SandboxFork') },
        ctx.mintToken,
      );
      children.push({ name: child, id: sandboxIdFor(child), token });
    }
    try {
      const made = await api.fork({
        namespace,
        fork: name,
        source: sourceId,
        children: children.map(({ id, token }) => ({ id, token })),
      });
      for (const [i, child] of children.entries()) {
        keep.push({
          name: child.name,
          sandboxID: child.id,
          endpoint: node.sandboxEndpoint,
          node: node.name,
          phase: 'Ready',
          forkTimeMicros: Math.round((made[i]?.forkTimeMs ?? 0) * 1000),
        });
      }
      status.checkpointTime = new Date(ctx.now()).toISOString();
    } catch (err) {
      if (!(err instanceof NodeCallError)) throw err;
      const reason =
        err.code === 'not_found' ? 'SourceNotReady' : err.code === 'capacity_exhausted' ? 'NoCapacity' : 'ForkFailed';
      status = { ...status, forks: keep, readyForks: keep.length, totalForks: keep.length };
      return writeForkStatus(ctx, fork, withReady(ctx, status, 'False', reason, err.message), 2_000);
    }
  }
  keep.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  const ready = keep.filter((k) => k.phase === 'Ready').length;
  status = { ...status, forks: keep, readyForks: ready, totalForks: keep.length };
  const complete = ready >= wanted.length;
  return writeForkStatus(
    ctx,
    fork,
    withReady(ctx, status, complete ? 'True' : 'False', 'ForksCreated', `${ready}/${wanted.length} forks ready`),
    complete ? undefined : 1_000,
  );
}

/** Labels the fork with its source and makes the source its owner, and adds our finalizer. */
async function adopt(ctx: ControllerContext, fork: SandboxFork, source: SandboxClaim): Promise<SandboxFork> {
  const sourceName = source.metadata.name ?? '';
  const owned = fork.metadata.ownerReferences?.some((o) => o.uid === source.metadata.uid);
  if (hasFinalizer(fork, FINALIZER_FORK) && fork.metadata.labels?.[LABEL_SOURCE_CLAIM] === sourceName && owned)
    return fork;
  return ctx.kube.patch<SandboxFork>(SANDBOX_FORKS, fork.metadata.namespace ?? '', fork.metadata.name ?? '', {
    metadata: {
      resourceVersion: fork.metadata.resourceVersion,
      labels: { [LABEL_SOURCE_CLAIM]: sourceName },
      finalizers: [...(fork.metadata.finalizers ?? []).filter((f) => f !== FINALIZER_FORK), FINALIZER_FORK],
      ownerReferences: [
        ...(fork.metadata.ownerReferences ?? []).filter((o) => o.uid !== source.metadata.uid),
        { ...ownerOf(source), blockOwnerDeletion: false },
      ],
    },
  });
}

async function finalizeFork(ctx: ControllerContext, fork: SandboxFork): Promise<ReconcileResult> {
  if (!hasFinalizer(fork, FINALIZER_FORK)) return {};
  const { namespace = '', name = '' } = fork.metadata;
  for (const child of fork.status?.forks ?? []) {
    const node = ctx.nodes().find((n) => n.name === child.node);
    if (node?.healthy) await ctx.nodeApi(node).terminate(child.sandboxID);
    await deleteTokenSecret(ctx.kube, namespace, child.name);
  }
  await ctx.kube.patch(SANDBOX_FORKS, namespace, name, {
    metadata: {
      resourceVersion: fork.metadata.resourceVersion,
      finalizers: (fork.metadata.finalizers ?? []).filter((f) => f !== FINALIZER_FORK),
    },
  });
  ctx.log.info({ fork: `${namespace}/${name}` }, 'fork released');
  return {};
}

function notReady(ctx: ControllerContext, fork: SandboxFork, reason: string, message: string): SandboxForkStatus {
  return withReady(ctx, { readyForks: 0, totalForks: 0, ...fork.status }, 'False', reason, message);
}

function withReady(
  ctx: ControllerContext,
  status: SandboxForkStatus,
  value: 'True' | 'False',
  reason: string,
  message: string,
): SandboxForkStatus {
  return {
    ...status,
    conditions: setCondition(status.conditions, { type: 'Ready', status: value, reason, message }, new Date(ctx.now())),
  };
}

async function writeForkStatus(
  ctx: ControllerContext,
  fork: SandboxFork,
  status: SandboxForkStatus,
  requeueAfterMs?: number,
): Promise<ReconcileResult> {
  if (JSON.stringify(fork.status ?? {}) !== JSON.stringify(status)) {
    await ctx.kube.patch(
      SANDBOX_FORKS,
      fork.metadata.namespace ?? '',
      fork.metadata.name ?? '',
      { status },
      { status: true },
    );
  }
  return requeueAfterMs === undefined ? {} : { requeueAfterMs };
}
