/**
 * The one rule for a sandbox a call names, applied on the call's one read of its row: it exists
 * for callers (not creating, terminating or pooled), else not_found; it is in a state the
 * operation allows, else sandbox_not_running. Then the caller's Acceptance hears of it.
 */
import { MitosError } from '@mitos/protocol';
import type { Acceptance, DeadlineChange } from '../engine.js';
import type { SandboxRow, StateStore } from '../state/store.js';
import { publicSandbox } from './rows.js';

export function liveRow(
  store: StateStore,
  id: string,
  allowed: readonly SandboxRow['state'][] = ['running'],
  accepted?: Acceptance['onAccepted'],
): SandboxRow {
  const row = store.sandbox(id);
  if (!row || row.state === 'creating' || row.state === 'terminating' || row.state === 'pooled') {
    throw new MitosError('not_found', `sandbox "${id}" not found`);
  }
  if (!allowed.includes(row.state)) {
    throw new MitosError('sandbox_not_running', `sandbox "${id}" is ${row.state}`, { sandbox: id, state: row.state });
  }
  accepted?.(publicSandbox(row));
  return row;
}

/** The deadline a call asked for, decided on its one read of `row` (undefined: keep it). */
export function decideDeadline(row: SandboxRow, change: DeadlineChange | undefined): Date | null | undefined {
  if (typeof change !== 'function') return change;
  const ms = row.deadlineMs ?? null;
  return change(publicSandbox(row), ms === null ? null : new Date(ms));
}
