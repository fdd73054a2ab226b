/**
 * Workspace reconciliation (crd-v1.md 7 and 10.4): adopt the workspace's revisions (label and
 * controller owner reference), validate each lineage edge, commit revisions whose content
 * digest is well formed and whose lineage holds (Committed is sticky), then write the
 * workspace's head, revision count and Ready condition, and prune by retention.
 * @module
 */
import { API_VERSION, LABEL_WORKSPACE } from '../api/group.js';
import type { OwnerReference } from '../api/meta.js';
import type { Workspace, WorkspaceRevision, WorkspaceRevisionStatus } from '../api/v1alpha1/index.js';
import { WORKSPACE_REVISIONS, WORKSPACES } from '../kube/resources.js';
import { setCondition } from './conditions.js';
import type { ControllerContext, ReconcileResult } from './context.js';
import { parseDuration } from './durations.js';
import { newest, pruneRevisions } from './workspace-retention.js';

const DIGEST = /^[0-9a-f]{64}$/;

export async function reconcileWorkspace(
  ctx: ControllerContext,
  namespace: string,
  name: string,
): Promise<ReconcileResult> {
  const ws = await ctx.kube.get<Workspace>(WORKSPACES, namespace, name);
  if (!ws || ws.metadata.deletionTimestamp) return {};
  const now = new Date(ctx.now());
  const inNamespace = (await ctx.kube.list<WorkspaceRevision>(WORKSPACE_REVISIONS, namespace)).items;
  const byName = new Map(inNamespace.map((r) => [r.metadata.name ?? '', r]));
  let revisions = inNamespace.filter((r) => r.spec.workspaceRef?.name === name && !r.metadata.deletionTimestamp);

  const owner: OwnerReference = {
    apiVersion: API_VERSION,
    kind: 'Workspace',
    name,
    uid: ws.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
  let degraded: string | undefined;
  const updated: WorkspaceRevision[] = [];
  for (let rev of revisions) {
    rev = await adopt(ctx, rev, owner);
    const lineage = lineageProblem(rev, byName);
    if (lineage) degraded ??= `${rev.metadata.name}: ${lineage}`;
    rev = await writeRevisionStatus(ctx, rev, revisionStatus(rev, lineage, now));
    updated.push(rev);
  }
  revisions = updated;

  const committed = revisions.filter((r) => r.status?.phase === 'Committed');
  const head = newest(committed);
  const ready = degraded
    ? { status: 'False' as const, reason: 'WorkspaceDegraded', message: `broken lineage: ${degraded}` }
    : head
      ? { status: 'True' as const, reason: 'WorkspaceReady', message: `head ${head.metadata.name}` }
      : { status: 'False' as const, reason: 'WorkspacePending', message: 'no committed revision yet' };
  const status = {
    head: head?.metadata.name ?? '',
    revisions: committed.length,
    // This controller restores no memory snapshots, so no head is resumable here.
    resumable: false,
    observedGeneration: ws.metadata.generation ?? 0,
    conditions: setCondition(ws.status?.conditions, { type: 'Ready', ...ready }, now),
  };
  if (JSON.stringify({ ...ws.status }) !== JSON.stringify({ ...ws.status, ...status })) {
    await ctx.kube.patch(WORKSPACES, namespace, name, { status }, { status: true });
  }

  const keep = ws.spec.retention?.revisions ?? 0;
  const minAgeMs = parseDuration(ws.spec.retention?.minAge) ?? 0;
  const doomed = pruneRevisions(committed, head, byName, { keep, minAgeMs, now: now.getTime() });
  for (const r of doomed) await ctx.kube.delete(WORKSPACE_REVISIONS, namespace, r.metadata.name ?? '');
  // A revision younger than minAge may become prunable later.
  return doomed.length === 0 && keep > 0 && committed.length > keep && minAgeMs > 0
    ? { requeueAfterMs: Math.min(minAgeMs, 60_000) }
    : {};
}

async function adopt(
  ctx: ControllerContext,
  rev: WorkspaceRevision,
  owner: OwnerReference,
): Promise<WorkspaceRevision> {
  const labelled = rev.metadata.labels?.[LABEL_WORKSPACE] === owner.name;
  const owned = rev.metadata.ownerReferences?.some((o) => o.controller && o.uid === owner.uid);
  if (labelled && owned) return rev;
  // A controller owner of something else is left alone; only the reference to us is added.
  const others = (rev.metadata.ownerReferences ?? []).filter((o) => o.uid !== owner.uid);
  const hasController = others.some((o) => o.controller);
  return ctx.kube.patch<WorkspaceRevision>(WORKSPACE_REVISIONS, rev.metadata.namespace ?? '', rev.metadata.name ?? '', {
    metadata: {
      labels: { [LABEL_WORKSPACE]: owner.name },
      ownerReferences: [...others, hasController ? { ...owner, controller: false } : owner],
    },
  });
}

/** Why `fromWorkspaceRevision` does not hold, or undefined. */
function lineageProblem(rev: WorkspaceRevision, byName: Map<string, WorkspaceRevision>): string | undefined {
  const from = rev.spec.source?.fromWorkspaceRevision;
  if (!from) return undefined;
  const parent = byName.get(from.revision);
  if (!parent) return `parent revision ${from.revision} does not exist`;
  if (parent.spec.workspaceRef?.name !== from.workspace) {
    return `parent revision ${from.revision} belongs to ${parent.spec.workspaceRef?.name}, not ${from.workspace}`;
  }
  return undefined;
}

function revisionStatus(rev: WorkspaceRevision, lineage: string | undefined, now: Date): WorkspaceRevisionStatus {
  const old = rev.status ?? {};
  // Committed is sticky: a later broken edge (a pruned parent) never un-commits a revision.
  if (old.phase === 'Committed') return old;
  const digestOk = DIGEST.test(rev.spec.contentManifest ?? '');
  const why = !digestOk ? 'contentManifest is not a sha256 digest (64 lowercase hex characters)' : lineage;
  const committed = why === undefined;
  return {
    ...old,
    phase: committed ? 'Committed' : 'Pending',
    observedGeneration: rev.metadata.generation ?? 0,
    conditions: setCondition(
      old.conditions,
      committed
        ? { type: 'Ready', status: 'True', reason: 'RevisionCommitted', message: 'content digest and lineage valid' }
        : { type: 'Ready', status: 'False', reason: 'RevisionPending', message: why ?? '' },
      now,
    ),
  };
}

async function writeRevisionStatus(
  ctx: ControllerContext,
  rev: WorkspaceRevision,
  status: WorkspaceRevisionStatus,
): Promise<WorkspaceRevision> {
  if (JSON.stringify(rev.status ?? {}) === JSON.stringify(status)) return rev;
  return ctx.kube.patch<WorkspaceRevision>(
    WORKSPACE_REVISIONS,
    rev.metadata.namespace ?? '',
    rev.metadata.name ?? '',
    { status },
    { status: true },
  );
}
