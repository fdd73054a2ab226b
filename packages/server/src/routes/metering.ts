/**
 * GET /v1/metering (docs/api-extensions.md): memory, disk and CPU per live sandbox, plus
 * totals. Totals add up only what is additive: unique memory, cgroup memory, exclusive disk
 * and CPU time. Shared bytes are left out of the totals because the same copy-on-write pages
 * and blocks appear in every sandbox that shares them.
 */
import type { SandboxUsage } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import type { SandboxRouteDeps } from '../env.js';
import { liveSandboxes } from '../lookup.js';
import type { Router } from '../routing.js';

export interface UsageRow {
  sandbox: string;
  memory: { unique_bytes: number; shared_bytes: number; cgroup_bytes: number };
  disk: { exclusive_bytes: number; shared_bytes: number } | null;
  cpu_ns: number;
  /** Bytes sent out through the sandbox's network link. */
  egress_bytes: number;
}

export interface UsageTotals {
  sandboxes: number;
  memory: { unique_bytes: number; cgroup_bytes: number };
  disk: { exclusive_bytes: number };
  cpu_ns: number;
  egress_bytes: number;
}

export function registerMeteringRoutes(router: Router, deps: SandboxRouteDeps): void {
  router.route('/v1/metering', {
    GET: async (c) => {
      const rows = await measureLiveSandboxes(deps);
      return c.json({ sandboxes: rows, totals: totalsOf(rows) });
    },
  });
}

/** Usage of every live sandbox; one that ends between the listing and its measurement is left out. */
export async function measureLiveSandboxes({
  engine,
  logger,
}: Pick<SandboxRouteDeps, 'engine' | 'logger'>): Promise<UsageRow[]> {
  const ids = liveSandboxes(engine).map((s) => s.id);
  const settled = await Promise.allSettled(ids.map((id) => engine.usage(id)));
  const rows: UsageRow[] = [];
  settled.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') rows.push(toUsageRow(outcome.value));
    else if (!(outcome.reason instanceof MitosError && outcome.reason.code === 'not_found')) {
      logger.warn({ sandbox: ids[i], err: outcome.reason }, 'usage measurement failed');
    }
  });
  return rows;
}

export function toUsageRow(usage: SandboxUsage): UsageRow {
  return {
    sandbox: usage.sandboxId,
    memory: {
      unique_bytes: usage.memory.uniqueBytes,
      shared_bytes: usage.memory.sharedBytes,
      cgroup_bytes: usage.memory.cgroupBytes,
    },
    disk: usage.disk && { exclusive_bytes: usage.disk.exclusiveBytes, shared_bytes: usage.disk.sharedBytes },
    cpu_ns: usage.cpuNs,
    egress_bytes: usage.egressBytes,
  };
}

export function totalsOf(rows: readonly UsageRow[]): UsageTotals {
  const totals: UsageTotals = {
    sandboxes: rows.length,
    memory: { unique_bytes: 0, cgroup_bytes: 0 },
    disk: { exclusive_bytes: 0 },
    cpu_ns: 0,
    egress_bytes: 0,
  };
  for (const row of rows) {
    totals.memory.unique_bytes += row.memory.unique_bytes;
    totals.memory.cgroup_bytes += row.memory.cgroup_bytes;
    totals.disk.exclusive_bytes += row.disk?.exclusive_bytes ?? 0;
    totals.cpu_ns += row.cpu_ns;
    totals.egress_bytes += row.egress_bytes;
  }
  return totals;
}
