/**
 * SandboxFork reconciliation (crd-v1.md 10.3, raw-node path): N live copies of a Ready claim's
 * sandbox, created on the source's node. Child `<fork>-fork-<i>` is a SandboxClaim the fork
 * controls (fork-children.ts), with its own token Secret, and an entry in `status.forks`.
 *
 * An entry's phase tells where the child is: `Pending` (claim made, no sandbox yet), `Ready`,
 * `Failed` (its claim failed), or `Terminated` (its claim was deleted: the child is never made
 * again). Deleting a child's claim ends that child; the fork goes once all its children have.
 * Deleting the fork (or its source claim) ends the children through the finalizer.
 * @module
 */
import { FINALIZER_FORK, LABEL_FORK, LABEL_SOURCE_CLAIM } from '../api/group.js';
import type { ForkInfo, SandboxClaim, SandboxFork, SandboxForkStatus } from '../api/v1alpha1/index.js';
import { SANDBOX_CLAIMS, SANDBOX_FORKS } from '../kube/resources.js';
import { sandboxIdFor } from '../util/ids.js';
import { ownerOf } from './claim-reconciler.js';
import { findCondition, setCondition } from './conditions.js';
import type { ControllerContext, ReconcileResult } from './context.js';
import { hasFinalizer } from './finalizers.js';
import { createChildClaim, forkChildName, forkOfChild, markChildReady, readChildClaim } from './fork-children.js';
import { type NodeApi, NodeCallError } from './node-client.js';
import type { NodeView } from './nodes.js';
import { ensureTokenSecret } from './token-secret.js';

/** A child whose claim is live and still needs its sandbox. */
interface Starting {
  entry: ForkInfo;
  claim: SandboxClaim;
  token: string;
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
  const node = ctx.nodes().find((n) => n.name === nodeName);
  if (!node?.healthy)
    return writeForkStatus(ctx, fork, notReady(ctx, fork, 'NodeLost', `node ${nodeName} is not healthy`), 2_000);
  const api = ctx.nodeApi(node);

  const { entries, starting, taken, changed } = await followChildren(ctx, fork, source, node, api);
  if (changed) {
    // Recorded before any sandbox exists, so a child whose claim is deleted from here on is
    // known to have been made and is not made again.
    status = summarize({ ...status, forks: entries });
    fork = { ...fork, status: await patchForkStatus(ctx, fork, status) };
  }
  if (starting.length > 0) {
    try {
      await startChildren(ctx, api, fork, source, starting);
      status.checkpointTime = new Date(ctx.now()).toISOString();
    } catch (err) {
      if (!(err instanceof NodeCallError)) throw err;
      status = summarize({ ...status, forks: entries });
      if (err.code === 'capacity_exhausted') {
        // A child is a copy of the source's layer on the source's node; moving it to another
        // node is not done, so a full node is said plainly (and retried: room may free up).
        const message = `node ${node.name} has no room for a fork of ${source.metadata.name}, and forks are only placed on the source's node (cross-node fork is not supported); terminate sandboxes on ${node.name} or raise its capacity`;
        return writeForkStatus(ctx, fork, withReady(ctx, status, 'False', 'SourceNodeFull', message), 2_000);
      }
      const reason = err.code === 'not_found' ? 'SourceNotReady' : 'ForkFailed';
      return writeForkStatus(ctx, fork, withReady(ctx, status, 'False', reason, err.message), 2_000);
    }
  }
  status = summarize({ ...status, forks: entries });
  if (entries.length >= fork.spec.replicas && entries.every((e) => e.phase === 'Terminated')) {
    // Every child has been terminated through its claim: nothing is left for the fork to hold.
    await ctx.kube.delete(SANDBOX_FORKS, namespace, name);
    const deleting = await ctx.kube.get<SandboxFork>(SANDBOX_FORKS, namespace, name);
    return deleting ? finalizeFork(ctx, deleting) : {};
  }
  if (taken.length > 0) {
    const message = `claim(s) ${taken.join(', ')} exist and are not children of this fork; delete or rename them`;
    return writeForkStatus(ctx, fork, withReady(ctx, status, 'False', 'ChildNameTaken', message), 5_000);
  }
  const ended = entries.filter((e) => e.phase === 'Terminated').length;
  const complete = status.readyForks + ended >= fork.spec.replicas;
  const message = `${status.readyForks}/${fork.spec.replicas} forks ready${ended > 0 ? `, ${ended} terminated` : ''}`;
  return writeForkStatus(
    ctx,
    fork,
    withReady(ctx, status, complete ? 'True' : 'False', 'ForksCreated', message),
    complete ? undefined : 1_000,
  );
}

/**
 * Brings each child's entry in line with its claim, and makes the claims of children that have
 * none yet. Returns the entries (in child order), the children that still need a sandbox, and
 * the names that someone else's claim occupies.
 */
async function followChildren(
  ctx: ControllerContext,
  fork: SandboxFork,
  source: SandboxClaim,
  node: NodeView,
  api: NodeApi,
): Promise<{ entries: ForkInfo[]; starting: Starting[]; taken: string[]; changed: boolean }> {
  const name = fork.metadata.name ?? '';
  const recorded = new Map((fork.status?.forks ?? []).map((e) => [e.name, { ...e }]));
  const names = new Set([
    ...recorded.keys(),
    ...Array.from({ length: fork.spec.replicas }, (_, i) => forkChildName(name, i)),
  ]);
  const entries: ForkInfo[] = [];
  const starting: Starting[] = [];
  const taken: string[] = [];
  let changed = false;
  for (const child of names) {
    let entry = recorded.get(child);
    if (entry?.phase === 'Terminated') {
      entries.push(entry);
      continue;
    }
    let found = await readChildClaim(ctx, fork, child);
    if (!entry && found.state === 'gone') found = await createChildClaim(ctx, fork, source, child, node.name);
    if (!entry && found.state === 'taken') {
      taken.push(child);
      continue;
    }
    if (!entry) {
      entry = {
        name: child,
        sandboxID: sandboxIdFor(fork.metadata.namespace ?? '', child),
        endpoint: node.sandboxEndpoint,
        node: node.name,
        phase: 'Pending',
      };
      changed = true;
    }
    entries.push(entry);
    if (found.state !== 'live') {
      // Its claim was deleted (the claim's finalizer ended the sandbox; ending it here too covers
      // a sandbox that appeared after that), or the name now belongs to another claim.
      if (entry.node === node.name) await api.terminate(entry.sandboxID, fork.metadata.namespace);
      entry.phase = 'Terminated';
      changed = true;
      continue;
    }
    const claimPhase = found.claim.status?.phase;
    if (claimPhase === 'Failed' || claimPhase === 'Terminated') {
      entry.phase = claimPhase;
      changed = true;
      continue;
    }
    // Ready already, or made Ready by a reconcile that stopped before recording it.
    if (entry.phase === 'Ready' || (claimPhase === 'Ready' && found.claim.status?.sandboxID === entry.sandboxID)) {
      changed ||= entry.phase !== 'Ready';
      entry.phase = 'Ready';
      continue;
    }
    const token = await ensureTokenSecret(
      ctx.kube,
      {
        namespace: fork.metadata.namespace ?? '',
        handle: child,
        endpoint: node.sandboxEndpoint,
        owner: ownerOf(found.claim),
      },
      ctx.mintToken,
    );
    starting.push({ entry, claim: found.claim, token });
  }
  entries.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  return { entries, starting, taken, changed };
}

/** Forks the source into every starting child at once, then makes each child's claim Ready. */
async function startChildren(
  ctx: ControllerContext,
  api: NodeApi,
  fork: SandboxFork,
  source: SandboxClaim,
  starting: Starting[],
): Promise<void> {
  const made = await api.fork({
    namespace: fork.metadata.namespace ?? '',
    fork: fork.metadata.name ?? '',
    source: source.status?.sandboxID ?? '',
    children: starting.map(({ entry, token }) => ({ id: entry.sandboxID, token })),
    ...(fork.spec.pauseSource !== undefined && { pauseSource: fork.spec.pauseSource }),
  });
  for (const [i, { entry, claim }] of starting.entries()) {
    entry.forkTimeMicros = Math.round((made[i]?.forkTimeMs ?? 0) * 1000);
    if (await markChildReady(ctx, claim, entry, source.metadata.name ?? '')) {
      entry.phase = 'Ready';
    } else {
      // The claim was deleted while its sandbox was being made.
      await api.terminate(entry.sandboxID, fork.metadata.namespace);
      entry.phase = 'Terminated';
    }
  }
}

function summarize(status: SandboxForkStatus): SandboxForkStatus {
  const forks = status.forks ?? [];
  return { ...status, readyForks: forks.filter((f) => f.phase === 'Ready').length, totalForks: forks.length };
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
    if (child.phase === 'Terminated') continue;
    const node = ctx.nodes().find((n) => n.name === child.node);
    if (node?.healthy) await ctx.nodeApi(node).terminate(child.sandboxID, namespace);
  }
  // The garbage collector would delete the children's claims once the fork is gone; deleting
  // them here does not wait for it. Each claim's finalizer then removes its token Secret.
  const children = await ctx.kube.list<SandboxClaim>(SANDBOX_CLAIMS, namespace, {
    labelSelector: `${LABEL_FORK}=${name}`,
  });
  for (const claim of children.items) {
    if (forkOfChild(claim)?.uid === fork.metadata.uid && !claim.metadata.deletionTimestamp)
      await ctx.kube.delete(SANDBOX_CLAIMS, namespace, claim.metadata.name ?? '');
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
  await patchForkStatus(ctx, fork, status);
  return requeueAfterMs === undefined ? {} : { requeueAfterMs };
}

/** Merge-patches the status subresource unless nothing would change; returns the status now held. */
async function patchForkStatus(
  ctx: ControllerContext,
  fork: SandboxFork,
  status: SandboxForkStatus,
): Promise<SandboxForkStatus> {
  if (JSON.stringify(fork.status ?? {}) !== JSON.stringify(status)) {
    await ctx.kube.patch(
      SANDBOX_FORKS,
      fork.metadata.namespace ?? '',
      fork.metadata.name ?? '',
      { status },
      { status: true },
    );
  }
  return status;
}
