/**
 * The cgroup parent a server's sandboxes live under. Without an explicit one it is derived
 * from the state directory, so two servers on one host (each with its own state dir) never
 * share a parent: one server's recovery can then never see, let alone reap, the other's
 * sandboxes.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';

export function cgroupParentFor(stateDir: string, explicit: string | undefined, prefix = 'mitos'): string {
  if (explicit) return explicit;
  const digest = createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 12);
  return `${prefix}-${digest}`;
}
