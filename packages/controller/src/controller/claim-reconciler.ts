/**
 * SandboxClaim reconciliation (crd-v1.md 10.2, raw-node path with warm hand-over).
 *
 * Order of a successful claim: finalizer, phase Restoring, node chosen by label and capacity,
 * token Secret written, sandbox acquired on the node (a warm one or a fresh one), then ONE
 * status write with phase Ready, endpoint, node and sandboxID, which is what the SDK waits for.
 * While Ready: node health and `spec.timeout`. Finished claims are deleted after their TTL.
 * Deletion (the SDK's terminate) releases the sandbox, the token Secret and the claim's forks
 * before the finalizer goes. Fork children are claims too (fork-children.ts): this reconciler
 * watches and releases them like any other, but never provisions one.
 * @module
 */
import { ANNOTATION_CAPACITY_PENDING_SINCE, API_VERSION, FINALIZER_CLAIM, LABEL_SOURCE_CLAIM } from '../api/group.js';
import type { OwnerReference } from '../api/meta.js';
import type {
  SandboxClaim,
  SandboxClaimStatus,
  SandboxFork,
  SandboxPool,
  SandboxTemplate,
} from '../api/v1alpha1/index.js';
import { SANDBOX_CLAIMS, SANDBOX_FORKS, SANDBOX_POOLS, SANDBOX_TEMPLATES } from '../kube/resources.js';
import type { AcquireResult } from '../node/node-sandboxes.js';
import { resolveDelivery } from './claim-delivery.js';
import { setCondition } from './conditions.js';
import type { ControllerContext, ReconcileResult } from './context.js';
import { parseDuration } from './durations.js';
import { addFinalizer, hasFinalizer, removeFinalizer } from './finalizers.js';
import { isForkChild } from './fork-children.js';
import { idleExpiry } from './idle.js';
import { finishedTtlExpiry, lifetimeExpiry } from './lifetime.js';
import { NodeCallError } from './node-client.js';
import { chooseClaimNode, eligibleNodes } from './placement.js';
import { prepareTemplateOn, templateSources } from './template-distribution.js';
import { TemplateRefusal, type TemplateSource, templateSource } from './template-source.js';
import { deleteTokenSecret, ensureTokenSecret } from './token-secret.js';
import { dehydrateClaim, hydrateClaim, resolveBinding } from './workspace-binding.js';

export const DEFAULT_MAX_PENDING_MS = 5 * 60_000;
const READY_RECHECK_MS = 30_000;

export async function reconcileClaim(
  ctx: ControllerContext,
  namespace: string,
  name: string,
): Promise<ReconcileResult> {
  const claim = await ctx.kube.get<SandboxClaim>(SANDBOX_CLAIMS, namespace, name);
  if (!claim) return {};
  if (claim.metadata.deletionTimestamp) return finalizeClaim(ctx, claim);
  const phase = claim.status?.phase || 'Pending';
  if (phase === 'Failed' || phase === 'Terminated') return expireFinished(ctx, claim);
  if (phase === 'Ready') return watchReady(ctx, claim);
  // A fork child's sandbox is a copy its fork makes (fork-reconciler.ts), never one from the pool.
  if (isForkChild(claim)) return {};
  return provision(ctx, claim);
}

async function provision(ctx: ControllerContext, initial: SandboxClaim): Promise<ReconcileResult> {
  const { namespace = '', name = '' } = initial.metadata;
  const pool = await ctx.kube.get<SandboxPool>(SANDBOX_POOLS, namespace, initial.spec.poolRef.name);
  if (!pool) return pending(ctx, initial, 'PoolNotFound', `SandboxPool ${initial.spec.poolRef.name} not found`, 5_000);
  const template = await ctx.kube.get<SandboxTemplate>(SANDBOX_TEMPLATES, namespace, pool.spec.templateRef.name);
  if (!template)
    return pending(ctx, initial, 'TemplateNotFound', `SandboxTemplate ${pool.spec.templateRef.name} not found`, 5_000);
  let source: TemplateSource;
  try {
    source = templateSource(template);
  } catch (err) {
    if (!(err instanceof TemplateRefusal)) throw err;
    return pending(
      ctx,
      initial,
      'TemplateInvalid',
      `SandboxTemplate ${template.metadata.name}: ${err.message}`,
      30_000,
    );
  }
  const image = source.key;
  const resolved = await resolveDelivery(ctx, initial);
  if ('refuse' in resolved) return fail(ctx, initial, resolved.refuse.reason, resolved.refuse.message);
  if ('wait' in resolved) return pending(ctx, initial, resolved.wait.reason, resolved.wait.message, 5_000);
  const binding = await resolveBinding(ctx, initial);
  if ('refuse' in binding) return fail(ctx, initial, binding.refuse.reason, binding.refuse.message);
  if ('wait' in binding) return pending(ctx, initial, binding.wait.reason, binding.wait.message, 5_000);
  let claim = await addFinalizer(ctx.kube, SANDBOX_CLAIMS, initial, FINALIZER_CLAIM);

  const nodes = ctx.nodes();
  if (!nodes.some((n) => n.healthy))
    return pending(ctx, claim, 'NoNodes', 'no healthy node daemon is registered', 1_000);
  const node = chooseClaimNode({
    eligible: eligibleNodes(nodes, pool.spec.placement?.nodeSelector),
    image,
    preferred: claim.spec.nodeName,
    holders: Object.keys(pool.status?.nodeDistribution ?? {}),
  });
  if (!node) return waitForCapacity(ctx, claim, 'NoCapacity', 'no eligible node has room');

  if (claim.status?.phase !== 'Restoring') {
    claim = await writeStatus(ctx, claim, { ...claim.status, phase: 'Restoring' });
  }
  const token = await ensureTokenSecret(
    ctx.kube,
    { namespace, handle: name, endpoint: node.sandboxEndpoint, owner: ownerOf(claim) },
    ctx.mintToken,
  );
  let acquired: AcquireResult;
  try {
    acquired = await ctx.nodeApi(node).acquire({
      namespace,
      pool: pool.metadata.name ?? '',
      claim: name,
      image,
      token,
      delivery: resolved.delivery,
    });
  } catch (err) {
    if (!(err instanceof NodeCallError)) throw err;
    if (err.code === 'template_not_ready') {
      // A template this node lacks (it is outside the pool's holders): fetched from a holder. A
      // built-in's recipe is empty (its tree is fetched, or found in the node's image cache).
      const recipe = source.spec ? { spec: source.spec, ...(source.network && { network: source.network }) } : {};
      const prep = await prepareTemplateOn(ctx, node, image, recipe, {
        sources: templateSources(nodes, image, Object.keys(pool.status?.nodeDistribution ?? {})),
        mayBuild: !nodes.some((n) => n.healthy && n.capacity.templates[image] === 'building'),
      });
      if (prep.state === 'failed') return fail(ctx, claim, prep.reason, prep.message);
      return pending(
        ctx,
        claim,
        prep.state === 'ready' ? 'TemplateNotReady' : prep.reason,
        prep.message,
        2_000,
        'Restoring',
      );
    }
    if (err.code === 'capacity_exhausted' || err.code === 'unavailable') {
      return waitForCapacity(ctx, claim, 'NoCapacity', err.message);
    }
    return fail(ctx, claim, 'ForkFailed', err.message);
  }

  if (binding.bind) {
    try {
      claim = await hydrateClaim(ctx, claim, binding.bind, ctx.nodeApi(node), acquired.sandboxId);
    } catch (err) {
      // A sandbox without its workspace is not what was asked for: it goes, and the claim fails.
      await ctx
        .nodeApi(node)
        .terminate(acquired.sandboxId, namespace)
        .catch(() => false);
      return fail(ctx, claim, 'WorkspaceHydrateFailed', (err as Error).message);
    }
  }
  if (claim.metadata.annotations?.[ANNOTATION_CAPACITY_PENDING_SINCE] !== undefined) {
    claim = await ctx.kube.patch<SandboxClaim>(SANDBOX_CLAIMS, namespace, name, {
      metadata: { annotations: { [ANNOTATION_CAPACITY_PENDING_SINCE]: null } },
    });
  }
  const now = new Date(ctx.now());
  const ms = Math.round(acquired.forkTimeMs * 100) / 100;
  const how = acquired.warm ? 'took a warm sandbox' : 'forked';
  await writeStatus(ctx, claim, {
    ...claim.status,
    phase: 'Ready',
    endpoint: node.sandboxEndpoint,
    node: node.name,
    sandboxID: acquired.sandboxId,
    forkTimeMicros: Math.round(acquired.forkTimeMs * 1000),
    startedAt: now.toISOString(),
    conditions: setCondition(
      claim.status?.conditions,
      { type: 'Ready', status: 'True', reason: 'Forked', message: `${how} in ${ms} ms on node ${node.name}` },
      now,
    ),
  });
  ctx.log.info(
    { claim: `${namespace}/${name}`, node: node.name, sandbox: acquired.sandboxId, warm: acquired.warm },
    'claim ready',
  );
  const expiry = lifetimeExpiry(now.toISOString(), claim.spec.timeout, ctx.now());
  const idleMs = parseDuration(claim.spec.idleTimeout) ?? READY_RECHECK_MS;
  return { requeueAfterMs: Math.min(READY_RECHECK_MS, expiry.remainingMs ?? READY_RECHECK_MS, idleMs) };
}

async function watchReady(ctx: ControllerContext, ready: SandboxClaim): Promise<ReconcileResult> {
  let claim = ready;
  const status = claim.status ?? {};
  const node = ctx.nodes().find((n) => n.name === status.node);
  if (!node?.healthy) return fail(ctx, claim, 'NodeLost', `node ${status.node ?? '(none)'} stopped renewing its lease`);
  const expiry = lifetimeExpiry(status.startedAt, claim.spec.timeout, ctx.now());
  if (expiry.expired) {
    claim = await dehydrateClaim(ctx, claim);
    await releaseSandbox(ctx, claim);
    const now = new Date(ctx.now());
    await writeStatus(ctx, claim, {
      ...status,
      phase: 'Terminated',
      finishedAt: now.toISOString(),
      conditions: setCondition(
        status.conditions,
        {
          type: 'Terminated',
          status: 'True',
          reason: 'MaxLifetimeExceeded',
          message: `timeout ${claim.spec.timeout} reached`,
        },
        now,
      ),
    });
    // The finished claim lingers for its TTL from now (the old status has no finishedAt).
    return expireFinished(ctx, { ...claim, status: { ...status, finishedAt: now.toISOString() } });
  }
  const idle = await idleExpiry(ctx, claim, node);
  if (idle.expired) return terminateIdle(ctx, claim);
  return {
    requeueAfterMs: Math.min(
      READY_RECHECK_MS,
      expiry.remainingMs ?? READY_RECHECK_MS,
      idle.remainingMs ?? READY_RECHECK_MS,
    ),
  };
}

async function terminateIdle(ctx: ControllerContext, idle: SandboxClaim): Promise<ReconcileResult> {
  const claim = await dehydrateClaim(ctx, idle);
  await releaseSandbox(ctx, claim);
  const now = new Date(ctx.now());
  const message = `no exec, process, code or file activity for ${claim.spec.idleTimeout}`;
  await writeStatus(ctx, claim, {
    ...claim.status,
    phase: 'Terminated',
    finishedAt: now.toISOString(),
    conditions: setCondition(
      claim.status?.conditions,
      { type: 'Terminated', status: 'True', reason: 'IdleTimeout', message },
      now,
    ),
  });
  return expireFinished(ctx, { ...claim, status: { ...claim.status, finishedAt: now.toISOString() } });
}

async function expireFinished(ctx: ControllerContext, claim: SandboxClaim): Promise<ReconcileResult> {
  const ttl = finishedTtlExpiry(claim.status?.finishedAt, claim.spec.ttlSecondsAfterFinished, ctx.now());
  if (!ttl.expired) return { requeueAfterMs: ttl.remainingMs ?? 60_000 };
  await ctx.kube.delete(SANDBOX_CLAIMS, claim.metadata.namespace ?? '', claim.metadata.name ?? '');
  return {};
}

async function finalizeClaim(ctx: ControllerContext, deleting: SandboxClaim): Promise<ReconcileResult> {
  if (!hasFinalizer(deleting, FINALIZER_CLAIM)) return {};
  const { namespace = '', name = '' } = deleting.metadata;
  // The workspace is captured before the sandbox goes; a failed capture retries and blocks deletion.
  const claim = await dehydrateClaim(ctx, deleting);
  await releaseSandbox(ctx, claim);
  await deleteTokenSecret(ctx.kube, namespace, name);
  // Forks of this claim are live copies of it; they go with it.
  const forks = await ctx.kube.list<SandboxFork>(SANDBOX_FORKS, namespace, {
    labelSelector: `${LABEL_SOURCE_CLAIM}=${name}`,
  });
  for (const fork of forks.items) await ctx.kube.delete(SANDBOX_FORKS, namespace, fork.metadata.name ?? '');
  await removeFinalizer(ctx.kube, SANDBOX_CLAIMS, claim, FINALIZER_CLAIM);
  ctx.log.info({ claim: `${namespace}/${name}` }, 'claim released');
  return {};
}

/** Terminates the claim's sandbox; a node that is gone or unhealthy has nothing left to release. */
async function releaseSandbox(ctx: ControllerContext, claim: SandboxClaim): Promise<void> {
  const { node: nodeName, sandboxID } = claim.status ?? {};
  if (!nodeName || !sandboxID) return;
  const node = ctx.nodes().find((n) => n.name === nodeName);
  if (!node?.healthy) return;
  await ctx.nodeApi(node).terminate(sandboxID, claim.metadata.namespace);
}

async function waitForCapacity(
  ctx: ControllerContext,
  claim: SandboxClaim,
  reason: string,
  message: string,
): Promise<ReconcileResult> {
  const { namespace = '', name = '' } = claim.metadata;
  const since = Date.parse(claim.metadata.annotations?.[ANNOTATION_CAPACITY_PENDING_SINCE] ?? '');
  const maxPending = ctx.maxPendingMs ?? DEFAULT_MAX_PENDING_MS;
  if (!Number.isFinite(since)) {
    const stamped = await ctx.kube.patch<SandboxClaim>(SANDBOX_CLAIMS, namespace, name, {
      metadata: { annotations: { [ANNOTATION_CAPACITY_PENDING_SINCE]: new Date(ctx.now()).toISOString() } },
    });
    return pending(ctx, stamped, reason, message, 5_000);
  }
  if (ctx.now() - since >= maxPending) {
    return fail(ctx, claim, 'CapacityExhausted', `${message} for ${Math.round(maxPending / 1000)} s`);
  }
  return pending(ctx, claim, reason, message, 5_000);
}

async function pending(
  ctx: ControllerContext,
  claim: SandboxClaim,
  reason: string,
  message: string,
  requeueAfterMs: number,
  phase: 'Pending' | 'Restoring' = 'Pending',
): Promise<ReconcileResult> {
  const now = new Date(ctx.now());
  // A pending claim points at nothing: cleared fields are removed (null in a merge patch).
  await writeStatus(ctx, claim, {
    ...claim.status,
    phase,
    endpoint: null,
    node: null,
    sandboxID: null,
    conditions: setCondition(claim.status?.conditions, { type: 'Ready', status: 'False', reason, message }, now),
  });
  return { requeueAfterMs };
}

async function fail(
  ctx: ControllerContext,
  claim: SandboxClaim,
  reason: string,
  message: string,
): Promise<ReconcileResult> {
  const now = new Date(ctx.now());
  ctx.log.warn({ claim: `${claim.metadata.namespace}/${claim.metadata.name}`, reason, message }, 'claim failed');
  await writeStatus(ctx, claim, {
    ...claim.status,
    phase: 'Failed',
    finishedAt: now.toISOString(),
    conditions: setCondition(claim.status?.conditions, { type: 'Ready', status: 'False', reason, message }, now),
  });
  return expireFinished(ctx, { ...claim, status: { ...claim.status, finishedAt: now.toISOString() } });
}

/** A status to write; `null` removes a field. */
type StatusPatch = { [K in keyof SandboxClaimStatus]: SandboxClaimStatus[K] | null };

/** Merge-patches the status subresource, skipping the write when nothing would change. */
async function writeStatus(ctx: ControllerContext, claim: SandboxClaim, status: StatusPatch): Promise<SandboxClaim> {
  if (sameStatus(claim.status, status)) return claim;
  return ctx.kube.patch<SandboxClaim>(
    SANDBOX_CLAIMS,
    claim.metadata.namespace ?? '',
    claim.metadata.name ?? '',
    { status },
    { status: true },
  );
}

function sameStatus(a: SandboxClaimStatus | undefined, b: StatusPatch): boolean {
  const norm = (s: StatusPatch | undefined) =>
    JSON.stringify(s ?? {}, (_k, v: unknown) => (v === '' || v === null || v === undefined ? undefined : v));
  return norm(a) === norm(b);
}

export function ownerOf(
  object: { apiVersion?: string; kind?: string; metadata: { name?: string; uid?: string } },
  kind = 'SandboxClaim',
): OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: object.kind ?? kind,
    name: object.metadata.name ?? '',
    uid: object.metadata.uid ?? '',
  };
}
