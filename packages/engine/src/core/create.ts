/**
 * Create, the driver-independent part: check the template, limits and posture, hand out a warm
 * pooled sandbox when there is one, else reserve a row and launch it. A failed launch is torn down.
 */
import { MitosError } from '@mitos/protocol';
import type { CreateSandboxOptions, SandboxInfo } from '../engine.js';
import type { SandboxRow, StateStore, TemplateRow } from '../state/store.js';
import type { TemplateConfig } from '../state/template-config.js';
import type { SandboxAgents } from './agents.js';
import { launchedOf, type SandboxDriver } from './driver.js';
import { admitted, handOutPosture } from './network.js';
import { alreadyExists, assertValidId, blankRow, mergeLimits, publicSandbox } from './rows.js';
import { sandboxEnv } from './sandbox-env.js';
import { startTemplateCommand } from './template-start.js';
import type { WarmPool } from './warm-pool.js';

/** What the host core's parts (create, fork, the warm pool, reattach, builds) need of it. */
export interface HostParts {
  store: StateStore;
  driver: SandboxDriver;
  agents: SandboxAgents;
  templateConfig(templateId: string): TemplateConfig | undefined;
  teardown(row: SandboxRow): Promise<void>;
  log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
}

export interface CreateContext extends HostParts {
  pool: WarmPool;
  /** The stored template as this engine would make it now (a built-in moved to its current recipe). */
  currentTemplate(row: TemplateRow): Promise<TemplateRow>;
}

export async function createSandbox(ctx: CreateContext, options: CreateSandboxOptions): Promise<SandboxInfo> {
  const started = performance.now();
  const { id } = options;
  assertValidId('sandbox', id);
  const stored = ctx.store.template(options.templateId);
  if (!stored) throw new MitosError('not_found', `template "${options.templateId}" not found`);
  const template = await ctx.currentTemplate(stored);
  const [limits, env] = [mergeLimits(template.limits, options.limits), sandboxEnv(options.env)];
  const network = admitted(ctx.driver, options.network ?? template.network);
  ctx.driver.admit('create', limits);
  if (ctx.store.sandbox(id)) throw alreadyExists(id);
  const pooled = await ctx.pool.take(template, id, limits, env);
  if (pooled) {
    await handOutPosture(ctx.driver, pooled, network, template, ctx.teardown);
    const forkTimeMs = performance.now() - started;
    ctx.store.markRunning(id, { ...launchedOf(pooled), forkTimeMs });
    return publicSandbox({ ...pooled, state: 'running', forkTimeMs });
  }
  const row = { ...blankRow(id, template.id, limits), env };
  if (!ctx.store.reserveSandbox(row)) throw alreadyExists(id);
  try {
    ctx.driver.network?.reserve(id, network);
    const forkTimeMs = await launchReserved(ctx, row, template, started);
    return publicSandbox({ ...row, state: 'running', forkTimeMs });
  } catch (err) {
    await ctx
      .teardown(row)
      .catch((e) => ctx.log('error', 'cleanup after failed create', { sandbox: id, error: String(e) }));
    throw err;
  }
}

/** How long a pooled sandbox's warm-up command (`true`) may take. */
const WARM_EXEC_TIMEOUT_MS = 30_000;

/**
 * Launch a reserved row and record it running; returns its create time (0 for the pool).
 * `pool`: the row is for the warm pool, and is warmed before it is marked running, so nothing
 * lists it half-warm: its `kernels` (kernel-demand.ts) started, best effort (an image without
 * python); then its agent connected and one command run, so the connection (a process of the
 * agent's) and the first exec on it are paid here, not by the user's create and first call.
 */
export async function launchReserved(
  ctx: HostParts,
  row: SandboxRow,
  template: TemplateRow,
  started?: number,
  pool?: { kernels: readonly string[] },
): Promise<number> {
  const launched = await ctx.driver.launch(row, template);
  await startTemplateCommand(ctx.agents, row.id, template.id, ctx.templateConfig(template.id));
  if (pool) {
    for (const language of pool.kernels) await ctx.agents.kernels.prestart(row.id, language).catch(() => {});
    // Best effort too: an image without a shell still pools (the hand-out connects if need be).
    await ctx.agents
      .exec(row.id, { command: 'true', timeoutMs: WARM_EXEC_TIMEOUT_MS })
      .catch((err) => ctx.log('warn', 'pooled sandbox warm-up failed', { sandbox: row.id, error: String(err) }));
  }
  const forkTimeMs = started === undefined ? 0 : performance.now() - started;
  ctx.store.markRunning(row.id, { ...launched, forkTimeMs });
  return forkTimeMs;
}
