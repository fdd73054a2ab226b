/**
 * Which committed revisions retention deletes (crd-v1.md 10.4): beyond `keep` (0 = unlimited),
 * oldest first, never the head or its ancestors (through fromWorkspaceRevision), never one
 * younger than `minAgeMs`.
 * @module
 */
import type { WorkspaceRevision } from '../api/v1alpha1/index.js';

export function pruneRevisions(
  committed: WorkspaceRevision[],
  head: WorkspaceRevision | undefined,
  byName: Map<string, WorkspaceRevision>,
  rule: { keep: number; minAgeMs: number; now: number },
): WorkspaceRevision[] {
  if (rule.keep <= 0 || committed.length <= rule.keep) return [];
  const protectedNames = new Set<string>();
  for (let r = head; r && !protectedNames.has(r.metadata.name ?? ''); ) {
    protectedNames.add(r.metadata.name ?? '');
    const from = r.spec.source?.fromWorkspaceRevision;
    r = from ? byName.get(from.revision) : undefined;
  }
  let excess = committed.length - rule.keep;
  const doomed: WorkspaceRevision[] = [];
  for (const r of [...committed].sort(compareAge)) {
    if (excess === 0) break;
    const created = Date.parse(r.metadata.creationTimestamp ?? '');
    const young = Number.isFinite(created) && rule.now - created < rule.minAgeMs;
    if (protectedNames.has(r.metadata.name ?? '') || young) continue;
    doomed.push(r);
    excess--;
  }
  return doomed;
}

/** Latest by creationTimestamp, then name. */
export function newest(revisions: WorkspaceRevision[]): WorkspaceRevision | undefined {
  let best: WorkspaceRevision | undefined;
  for (const r of revisions) {
    if (!best || compareAge(r, best) > 0) best = r;
  }
  return best;
}

export function compareAge(a: WorkspaceRevision, b: WorkspaceRevision): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const na = a.metadata.name ?? '';
  const nb = b.metadata.name ?? '';
  return na < nb ? -1 : na > nb ? 1 : 0;
}
