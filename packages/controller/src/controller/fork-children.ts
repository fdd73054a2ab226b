/**
 * Fork children as SandboxClaims. Each child of a SandboxFork is a claim `<fork>-fork-<i>` that
 * the fork controls (ownerReference with `controller: true`, so deleting the fork cascades to
 * it), bound from birth to a live copy on the source's node. Because it is an ordinary claim,
 * the seed client's claim calls (get, info, from_name, terminate with outputs, delete) work on
 * a child unchanged, and deleting one child's claim ends that child only.
 *
 * The claim reconciler never provisions a child claim: its sandbox comes from the fork, and
 * this module writes its Ready status.
 * @module
 */
import { API_VERSION, FINALIZER_CLAIM, LABEL_FORK } from '../api/group.js';
import type { OwnerReference } from '../api/meta.js';
import type { ForkInfo, SandboxClaim, SandboxFork } from '../api/v1alpha1/index.js';
import { isConflict, isNotFound } from '../kube/client.js';
import { SANDBOX_CLAIMS } from '../kube/resources.js';
import { setCondition } from './conditions.js';
import type { ControllerContext } from './context.js';

export function forkChildName(fork: string, index: number): string {
  return `${fork}-fork-${index}`;
}

/** The fork controlling `claim`, when it is a fork child. */
export function forkOfChild(claim: SandboxClaim): OwnerReference | undefined {
  return claim.metadata.ownerReferences?.find(
    (o) => o.controller === true && o.kind === 'SandboxFork' && o.apiVersion === API_VERSION,
  );
}

export function isForkChild(claim: SandboxClaim): boolean {
  return forkOfChild(claim) !== undefined;
}

/** What a child's name currently refers to. */
export type ChildClaim =
  | { state: 'live'; claim: SandboxClaim }
  /** Deleted, or being deleted: the child is over. */
  | { state: 'gone' }
  /** A claim of that name exists but is not this fork's: never adopted, never touched. */
  | { state: 'taken' };

export async function readChildClaim(ctx: ControllerContext, fork: SandboxFork, name: string): Promise<ChildClaim> {
  const claim = await ctx.kube.get<SandboxClaim>(SANDBOX_CLAIMS, fork.metadata.namespace ?? '', name);
  return classify(fork, claim);
}

function classify(fork: SandboxFork, claim: SandboxClaim | undefined): ChildClaim {
  if (!claim) return { state: 'gone' };
  if (forkOfChild(claim)?.uid !== fork.metadata.uid) return { state: 'taken' };
  if (claim.metadata.deletionTimestamp) return { state: 'gone' };
  return { state: 'live', claim };
}

/**
 * Creates the child claim (or finds the one an interrupted reconcile already made). It carries
 * the claim finalizer from the start, so deleting it always passes through the claim
 * reconciler, which terminates the child's sandbox.
 */
export async function createChildClaim(
  ctx: ControllerContext,
  fork: SandboxFork,
  source: SandboxClaim,
  name: string,
  node: string,
): Promise<ChildClaim> {
  const namespace = fork.metadata.namespace ?? '';
  const body: SandboxClaim = {
    apiVersion: API_VERSION,
    kind: 'SandboxClaim',
    metadata: {
      name,
      namespace,
      labels: { [LABEL_FORK]: fork.metadata.name ?? '' },
      finalizers: [FINALIZER_CLAIM],
      ownerReferences: [
        {
          apiVersion: API_VERSION,
          kind: 'SandboxFork',
          name: fork.metadata.name ?? '',
          uid: fork.metadata.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: { poolRef: { name: source.spec.poolRef.name }, nodeName: node },
  };
  try {
    return { state: 'live', claim: await ctx.kube.create<SandboxClaim>(SANDBOX_CLAIMS, body) };
  } catch (err) {
    if (!isConflict(err)) throw err;
    return readChildClaim(ctx, fork, name);
  }
}

/**
 * The one status write that makes a child usable through its claim: phase Ready with the
 * endpoint, node and sandboxID its fork entry carries. False when the claim vanished first.
 */
export async function markChildReady(
  ctx: ControllerContext,
  claim: SandboxClaim,
  child: ForkInfo,
  source: string,
): Promise<boolean> {
  const now = new Date(ctx.now());
  const ms = Math.round((child.forkTimeMicros ?? 0) / 10) / 100;
  try {
    await ctx.kube.patch(
      SANDBOX_CLAIMS,
      claim.metadata.namespace ?? '',
      claim.metadata.name ?? '',
      {
        status: {
          phase: 'Ready',
          endpoint: child.endpoint,
          node: child.node,
          sandboxID: child.sandboxID,
          ...(child.forkTimeMicros !== undefined && { forkTimeMicros: child.forkTimeMicros }),
          startedAt: now.toISOString(),
          conditions: setCondition(
            claim.status?.conditions,
            {
              type: 'Ready',
              status: 'True',
              reason: 'Forked',
              message: `forked from ${source} in ${ms} ms on node ${child.node}`,
            },
            now,
          ),
        },
      },
      { status: true },
    );
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
