/** Turning ResourceLimits into cgroup values; shared by the v1 and v2 managers. */
import { MitosError } from '@mitos/protocol';
import type { ResourceLimits } from '../engine.js';

/** 100 ms: the kernel default period; quota is cpus x period. */
export const CPU_PERIOD_US = 100_000;
// Below ~1 ms per period the kernel rejects the quota (and nothing useful runs anyway).
const MIN_QUOTA_US = 1_000;

export function cpuQuota(cpus: number): number {
  return Math.max(MIN_QUOTA_US, Math.round(cpus * CPU_PERIOD_US));
}

export function checkLimits(limits: ResourceLimits): void {
  const bad: string[] = [];
  if (!Number.isSafeInteger(limits.memoryBytes) || limits.memoryBytes < 1024 * 1024)
    bad.push(`memoryBytes=${limits.memoryBytes}`);
  if (!Number.isSafeInteger(limits.pids) || limits.pids < 1) bad.push(`pids=${limits.pids}`);
  if (!Number.isFinite(limits.cpus) || limits.cpus <= 0) bad.push(`cpus=${limits.cpus}`);
  if (bad.length > 0) throw new MitosError('invalid_request', `invalid resource limits: ${bad.join(', ')}`);
}
