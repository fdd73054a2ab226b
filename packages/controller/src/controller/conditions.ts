/**
 * Condition bookkeeping with metav1 semantics: a condition's lastTransitionTime moves only when
 * its status changes, and an update that changes nothing returns the same array so callers can
 * skip the write.
 * @module
 */
import type { Condition } from '../api/meta.js';

export interface ConditionUpdate {
  type: string;
  status: Condition['status'];
  reason: string;
  message: string;
  observedGeneration?: number;
}

export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: ConditionUpdate,
  now: Date,
): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((c) => c.type === update.type);
  const old = index >= 0 ? list[index] : undefined;
  const next: Condition = {
    type: update.type,
    status: update.status,
    reason: update.reason,
    message: update.message,
    lastTransitionTime: old && old.status === update.status ? old.lastTransitionTime : now.toISOString(),
    ...(update.observedGeneration !== undefined && { observedGeneration: update.observedGeneration }),
  };
  if (old && sameCondition(old, next)) return conditions as Condition[];
  if (index >= 0) list[index] = next;
  else list.push(next);
  return list;
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

function sameCondition(a: Condition, b: Condition): boolean {
  return (
    a.status === b.status &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.lastTransitionTime === b.lastTransitionTime &&
    a.observedGeneration === b.observedGeneration
  );
}
