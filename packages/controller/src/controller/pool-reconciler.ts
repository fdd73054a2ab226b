/**
 * SandboxPool reconciliation: prepare the template on `max(1, replicas)` eligible nodes and
 * keep the pool's warm sandboxes at the desired count (fixed `replicas`, or the autoscale
 * target), spread over those nodes. Claims take warm sandboxes; this refills them.
 * Deleting a pool drains its warm sandboxes from every node before the finalizer goes.
 * @module
 */
import { FINALIZER_POOL } from '../api/group.js';
import type { SandboxClaim, SandboxPool, SandboxPoolStatus, SandboxTemplate } from '../api/v1alpha1/index.js';
import { SANDBOX_POOLS, SANDBOX_TEMPLATES } from '../kube/resources.js';
import type { TemplateRecipe, TemplateState } from '../node/node-sandboxes.js';
import { desiredWarm } from './autoscale.js';
import { setCondition } from './conditions.js';
import type { ControllerContext, ReconcileResult } from './context.js';
import { addFinalizer, hasFinalizer, removeFinalizer } from './finalizers.js';
import { isForkChild } from './fork-children.js';
import { type NodeApi, NodeCallError } from './node-client.js';
import type { NodeView } from './nodes.js';
import { eligibleNodes, spreadWarm, templateHolders, trimWarm } from './placement.js';
import { type Preparation, prepareTemplateOn, reportedTemplateState, servesTemplate } from './template-distribution.js';
import { TemplateRefusal, type TemplateSource, templateSource } from './template-source.js';

const SETTLED_RESYNC_MS = 30_000;
const CONVERGING_RESYNC_MS = 2_000;

export interface PoolInputs {
  /** The pool's claims (from the claim cache). */
  claims(namespace: string, pool: string): SandboxClaim[];
}

export async function reconcilePool(
  ctx: ControllerContext,
  inputs: PoolInputs,
  namespace: string,
  name: string,
): Promise<ReconcileResult> {
  let pool = await ctx.kube.get<SandboxPool>(SANDBOX_POOLS, namespace, name);
  if (!pool) return {};
  if (pool.metadata.deletionTimestamp) return drainPool(ctx, pool);
  pool = await addFinalizer(ctx.kube, SANDBOX_POOLS, pool, FINALIZER_POOL);
  const now = new Date(ctx.now());
  const base: SandboxPoolStatus = { readySnapshots: 0, totalSnapshots: 0, restoringCount: 0, ...pool.status };

  const template = await ctx.kube.get<SandboxTemplate>(SANDBOX_TEMPLATES, namespace, pool.spec.templateRef.name);
  if (!template) {
    const message = `SandboxTemplate ${pool.spec.templateRef.name} not found`;
    return writePoolStatus(ctx, pool, withReady(base, 'False', 'TemplateNotFound', message, now), 10_000);
  }
  let source: TemplateSource;
  try {
    source = templateSource(template);
  } catch (err) {
    if (!(err instanceof TemplateRefusal)) throw err;
    const message = `SandboxTemplate ${pool.spec.templateRef.name}: ${err.message}`;
    return writePoolStatus(ctx, pool, withReady(base, 'False', 'TemplateInvalid', message, now), SETTLED_RESYNC_MS);
  }
  const image = source.key;
  // A built-in's recipe is empty: its name is all a node needs to build it, or fetch its tree.
  const recipe: TemplateRecipe = source.spec
    ? { spec: source.spec, ...(source.network && { network: source.network }) }
    : {};
  const eligible = eligibleNodes(ctx.nodes(), pool.spec.placement?.nodeSelector);
  if (eligible.length === 0) {
    const status = { ...base, readySnapshots: 0, totalSnapshots: 0, nodeDistribution: {} };
    return writePoolStatus(
      ctx,
      pool,
      withReady(status, 'False', 'NoEligibleNodes', 'no healthy node matches placement', now),
      5_000,
    );
  }

  // Holders are chosen on each node's own word: its Lease can be 10 s behind a build that began,
  // and a choice made on the Lease alone then moves and builds it twice.
  const views = await withReportedTemplate(ctx, eligible, image);
  const holders = templateHolders(views, image, pool.spec.replicas);
  const errors: string[] = [];
  const { states, progress } = await prepareHolders(ctx, views, holders, image, recipe, errors);
  const warmByNode = new Map<string, number>();
  for (const node of eligible) {
    try {
      const sandboxes = await ctx.nodeApi(node).sandboxes();
      const warm = sandboxes.filter(
        (s) => s.owner.kind === 'warm' && s.owner.namespace === namespace && s.owner.pool === name,
      );
      warmByNode.set(node.name, warm.length);
    } catch (err) {
      if (!(err instanceof NodeCallError)) throw err;
      errors.push(err.message);
    }
  }
  const readyHolders = holders.filter((n) => states.get(n.name) === 'ready').map((n) => n.name);
  const currentWarm = sum(warmByNode.values());

  // Fork children name their source's pool but never took a sandbox from it: not demand.
  const claims = inputs.claims(namespace, name).filter((c) => !c.metadata.deletionTimestamp && !isForkChild(c));
  const live = claims.filter((c) => !['Failed', 'Terminated'].includes(c.status?.phase ?? ''));
  const newestClaim = Math.max(...claims.map((c) => Date.parse(c.metadata.creationTimestamp ?? '') || 0), 0);
  const target = desiredWarm({
    replicas: pool.spec.replicas,
    autoscale: pool.spec.autoscale,
    inUse: live.filter((c) => c.status?.phase === 'Ready').length,
    currentWarm,
    lastClaimAt: newestClaim > 0 ? newestClaim : undefined,
    now: ctx.now(),
  });

  let warm = currentWarm;
  let lastScaleDownTime = base.lastScaleDownTime;
  if (target.desired > currentWarm && readyHolders.length > 0) {
    const plan = spreadWarm(warmByNode, readyHolders, target.desired - currentWarm);
    warm += await applyPlan(ctx, eligible, plan, errors, (api, count) => api.addWarm(namespace, name, image, count));
  } else if (target.desired < currentWarm) {
    const plan = trimWarm(warmByNode, currentWarm - target.desired);
    warm -= await applyPlan(ctx, eligible, plan, errors, (api, count) => api.removeWarm(namespace, name, count));
    lastScaleDownTime = now.toISOString();
  }

  const building = holders.some((n) => states.get(n.name) === 'building');
  const failed = holders.filter((n) => states.get(n.name) === 'failed').map((n) => n.name);
  const status: SandboxPoolStatus = {
    ...base,
    readySnapshots: readyHolders.length,
    totalSnapshots: readyHolders.length,
    restoringCount: 0,
    nodeDistribution: Object.fromEntries(readyHolders.map((n) => [n, 1])),
    templateDigest: image,
    desiredWarm: target.desired,
    warm,
    ...(lastScaleDownTime !== undefined && { lastScaleDownTime }),
  };
  const settled = readyHolders.length > 0 && warm >= target.desired;
  const [reason, message] = settled
    ? [
        'WarmPoolReady',
        `${warm}/${target.desired} warm sandboxes (${live.length} claimed), ${readyHolders.length} template node(s)`,
      ]
    : building
      ? progress.length > 0
        ? [
            (progress.find((p) => p.state === 'building') ?? progress[0])?.reason ?? 'TemplateBuilding',
            progress.map((p) => p.message).join('; '),
          ]
        : ['TemplateBuilding', `preparing ${image} on ${holders.map((n) => n.name).join(', ')}`]
      : failed.length > 0
        ? [
            'TemplateFailed',
            progress.map((p) => p.message).join('; ') || `template build failed on ${failed.join(', ')}`,
          ]
        : [
            'WarmPoolPending',
            `${warm}/${target.desired} warm sandboxes${errors.length ? `; ${errors.join('; ')}` : ''}`,
          ];
  const next = withReady(status, settled ? 'True' : 'False', reason, message, now);
  return writePoolStatus(ctx, pool, next, settled && errors.length === 0 ? SETTLED_RESYNC_MS : CONVERGING_RESYNC_MS);
}

/** The node views with what each node itself says of `image` when it builds or holds it. */
async function withReportedTemplate(ctx: ControllerContext, nodes: readonly NodeView[], image: string) {
  return Promise.all(
    nodes.map(async (node): Promise<NodeView> => {
      const state = await reportedTemplateState(ctx.nodeApi(node), image);
      if (state !== 'building' && state !== 'ready') return node;
      const templates = { ...node.capacity.templates, [image]: state };
      return { ...node, capacity: { ...node.capacity, templates } };
    }),
  );
}

/**
 * Prepares the template on each holder, ready ones first. A spec template that a node has ready
 * is fetched from it by the others, from the next ready node when one fails, and built locally
 * only when none serves it (template-distribution.ts); while no node has it, only the first
 * holder builds it and the rest wait for that. Built-ins go the same way: a holder with the tree
 * in its image cache prepares it from there, one without fetches it from a node that has it.
 */
async function prepareHolders(
  ctx: ControllerContext,
  eligible: readonly NodeView[],
  holders: readonly NodeView[],
  image: string,
  recipe: TemplateRecipe,
  errors: string[],
): Promise<{ states: Map<string, TemplateState>; progress: Preparation[] }> {
  const states = new Map<string, TemplateState>();
  const progress: Preparation[] = [];
  // Any healthy node that can serve it is a source, eligible or not; holders first (they are
  // what the pool keeps).
  const others = ctx.nodes().filter((n) => n.healthy && !eligible.some((e) => e.name === n.name));
  const sources = [...holders, ...eligible.filter((n) => !holders.includes(n)), ...others].filter((n) =>
    servesTemplate(n, image),
  );
  let building = false;
  for (const node of holders) {
    try {
      const prep = await prepareTemplateOn(ctx, node, image, recipe, { sources, mayBuild: !building });
      states.set(node.name, prep.state);
      if (prep.state === 'ready' && !sources.includes(node)) sources.unshift(node);
      if (prep.state !== 'ready') progress.push(prep);
      building ||= prep.building;
    } catch (err) {
      if (!(err instanceof NodeCallError)) throw err;
      errors.push(err.message);
    }
  }
  return { states, progress };
}

async function applyPlan(
  ctx: ControllerContext,
  nodes: readonly NodeView[],
  plan: ReadonlyMap<string, number>,
  errors: string[],
  act: (api: NodeApi, count: number) => Promise<string[]>,
): Promise<number> {
  let done = 0;
  for (const [nodeName, count] of plan) {
    const node = nodes.find((n) => n.name === nodeName);
    if (!node || count <= 0) continue;
    try {
      done += (await act(ctx.nodeApi(node), count)).length;
    } catch (err) {
      if (!(err instanceof NodeCallError)) throw err;
      errors.push(err.message);
    }
  }
  return done;
}

async function drainPool(ctx: ControllerContext, pool: SandboxPool): Promise<ReconcileResult> {
  if (!hasFinalizer(pool, FINALIZER_POOL)) return {};
  const { namespace = '', name = '' } = pool.metadata;
  for (const node of ctx.nodes().filter((n) => n.healthy)) {
    await ctx.nodeApi(node).removeWarm(namespace, name);
  }
  await removeFinalizer(ctx.kube, SANDBOX_POOLS, pool, FINALIZER_POOL);
  ctx.log.info({ pool: `${namespace}/${name}` }, 'pool drained');
  return {};
}

function withReady(
  status: SandboxPoolStatus,
  value: 'True' | 'False',
  reason: string,
  message: string,
  now: Date,
): SandboxPoolStatus {
  return {
    ...status,
    conditions: setCondition(status.conditions, { type: 'Ready', status: value, reason, message }, now),
  };
}

/** Writes only when something other than the timestamp changed, then stamps lastSnapshotTime. */
async function writePoolStatus(
  ctx: ControllerContext,
  pool: SandboxPool,
  status: SandboxPoolStatus,
  requeueAfterMs: number,
): Promise<ReconcileResult> {
  const { lastSnapshotTime: _old, ...before } = pool.status ?? ({} as SandboxPoolStatus);
  const { lastSnapshotTime: _new, ...after } = status;
  if (JSON.stringify(before) !== JSON.stringify(after)) {
    await ctx.kube.patch(
      SANDBOX_POOLS,
      pool.metadata.namespace ?? '',
      pool.metadata.name ?? '',
      { status: { ...status, lastSnapshotTime: new Date(ctx.now()).toISOString() } },
      { status: true },
    );
  }
  return { requeueAfterMs };
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
