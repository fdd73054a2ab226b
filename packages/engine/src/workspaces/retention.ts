/**
 * Which revisions retention removes: beyond `keep` (0 = unlimited), oldest first, never the
 * head, never a revision a writer builds on, never one younger than `minAgeMs`.
 */
import type { RevisionRow } from './catalog.js';

export interface RetentionRule {
  keep: number;
  minAgeMs: number;
  now: number;
  protect: ReadonlyArray<string | null>;
}

/** `newestFirst`: one workspace's revisions, newest first. Returns the ids to delete. */
export function pruneCandidates(newestFirst: RevisionRow[], rule: RetentionRule): string[] {
  if (rule.keep <= 0 || newestFirst.length <= rule.keep) return [];
  const protectedIds = new Set([newestFirst[0]?.id, ...rule.protect]);
  let excess = newestFirst.length - rule.keep;
  const doomed: string[] = [];
  for (const row of [...newestFirst].reverse()) {
    if (excess === 0) break;
    if (protectedIds.has(row.id) || rule.now - row.created_at < rule.minAgeMs) continue;
    doomed.push(row.id);
    excess--;
  }
  return doomed;
}
