/**
 * Fork, the driver-independent part: reserve the children's rows, carry interpreter state
 * (live with the processes, or saved into the parent's filesystem first), let the driver
 * branch the parent, record the children running. Anything half-made is torn down.
 */
import { MitosError } from '@mitos/protocol';
import type { ForkCarried, ForkOptions, ForkOutcome } from '../engine.js';
import type { SandboxRow, StateStore } from '../state/store.js';
import type { SandboxAgents } from './agents.js';
import type { Launched, SandboxDriver } from './driver.js';
import { planForkProcesses } from './fork-processes.js';
import { admitted, effectivePosture } from './network.js';
import { alreadyExists, blankRow, forkChildIds, publicSandbox } from './rows.js';

export interface ForkContext {
  store: StateStore;
  driver: SandboxDriver;
  agents: SandboxAgents;
  teardown(row: SandboxRow): Promise<void>;
}

export async function forkSandbox(
  ctx: ForkContext,
  parent: SandboxRow,
  options: ForkOptions,
  started: number,
): Promise<ForkOutcome> {
  const pauseSource = options.pauseSource !== false;
  if (!pauseSource && !ctx.driver.forksRunningParent) {
    throw new MitosError(
      'not_implemented',
      `the ${ctx.driver.name} engine always stops a sandbox while it is snapshotted`,
      {},
      { remediation: `omit pause_source or send true; the ${ctx.driver.name} engine cannot copy a running sandbox` },
    );
  }
  const plan = await planForkProcesses(ctx.driver, options.processes, {
    listProcesses: () => ctx.agents.listProcesses(parent.id),
  });
  const ids = forkChildIds(options);
  // The children's posture: the one asked for, else the parent's (each child gets its own link).
  const network = admitted(ctx.driver, options.network ?? effectivePosture(ctx.driver, ctx.store, parent));
  const rows: SandboxRow[] = [];
  const onRequest = plan.carry && !ctx.driver.forkCarriesProcesses;
  try {
    for (const id of ids) {
      // Checked before a fork slot is claimed, so a refused id never strands one.
      if (ctx.store.sandbox(id)) throw alreadyExists(id);
      const slot = onRequest ? undefined : ctx.driver.claimForkSlot?.();
      const row = { ...blankRow(id, parent.templateId, parent.limits, slot), parentId: parent.id, env: parent.env };
      row.generation = parent.generation + 1;
      if (!ctx.store.reserveSandbox(row)) throw alreadyExists(id);
      rows.push(row);
      ctx.driver.network?.reserve(id, network);
    }
    const carried = plan.carry;
    // Live interpreters travel with the processes; otherwise their state reaches the children
    // through the filesystem, saved before the snapshot.
    const live = carried ? await ctx.agents.liveInterpreters(parent.id) : { python: false, javascript: false };
    const saved = carried ? undefined : await ctx.agents.saveInterpreters(parent.id);
    // A checkpoint cannot take the engine's connection along (docs/fork-processes.md): it is
    // closed first, and the next operation on the parent connects again.
    if (onRequest) ctx.agents.disconnect(parent.id);
    const launched = await ctx.driver.fork(parent, rows, pauseSource, onRequest);
    if (saved) ctx.agents.dropSavedInterpreters(parent.id);
    const interpreter = carried
      ? live.python || live.javascript
      : saved !== undefined && saved.saved.length + saved.skipped.length > 0;
    const report: ForkCarried = {
      filesystem: true,
      interpreter,
      interpreterSkipped: saved?.skipped ?? [],
      processes: carried,
      processesNotCarried: plan.notCarried,
      connections: false,
    };
    const closed = launched[0]?.closedConnections ?? [];
    if (closed.length > 0) report.connectionsClosed = closed;
    const children = await Promise.all(
      rows.map(async (row, i) => {
        const forkTimeMs = performance.now() - started;
        ctx.store.markRunning(row.id, { ...(launched[i] as Launched), forkTimeMs });
        ctx.store.setForkCarried(row.id, report);
        if (live.python) await ctx.agents.reseedPython(row.id);
        return publicSandbox({ ...row, state: 'running', forkTimeMs, forkCarried: report });
      }),
    );
    return {
      parent: publicSandbox(ctx.store.sandbox(parent.id) as SandboxRow),
      children,
      carried: report,
      forkTimeMs: performance.now() - started,
    };
  } catch (err) {
    for (const row of rows) await ctx.teardown(ctx.store.sandbox(row.id) ?? row).catch(() => {});
    throw err;
  }
}
