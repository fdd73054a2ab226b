/**
 * A starting engine takes over what a previous one left: sandboxes the driver can reattach
 * (their agent answers) stay; every other row is torn down, and leftovers with no row are reaped.
 */
import type { SandboxRow, StateStore } from '../state/store.js';
import type { SandboxAgents } from './agents.js';
import type { SandboxDriver } from './driver.js';

export interface ReattachContext {
  store: StateStore;
  driver: SandboxDriver;
  agents: SandboxAgents;
  teardown(row: SandboxRow): Promise<void>;
  log(level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>): void;
}

export async function reattachOrReap(ctx: ReattachContext): Promise<void> {
  for (const row of ctx.store.sandboxes()) {
    if (await ctx.driver.reattach(row, () => ctx.agents.client(row.id).ping()).catch(() => false)) {
      ctx.log('info', 'reattached sandbox', { sandbox: row.id, pid: row.initPid });
      continue;
    }
    ctx.log('warn', 'reaping sandbox left behind', { sandbox: row.id, state: row.state });
    await ctx.teardown(row);
  }
  const kept = ctx.store.sandboxes();
  await ctx.driver.reapOrphans(new Set(kept.map((r) => r.id)), new Set(kept.map((r) => r.cgroupKey)));
}
