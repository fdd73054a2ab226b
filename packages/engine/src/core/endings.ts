/**
 * How a sandbox ends, whoever ends it (a terminate call from any surface, its deadline, its VM
 * lost): hooks registered with `onSandboxEnding` run first, while the sandbox still runs, so
 * what must outlive it (a bound workspace) is saved. Concurrent ends of one sandbox share one
 * run. A hook gets a bounded time: a sandbox cannot stall its own deadline through a hook.
 */
import type { EndReason } from '../engine.js';
import type { SandboxRow } from '../state/store.js';

export type EndingHook = (sandboxId: string, reason: EndReason) => Promise<void>;

export interface EndingDeps {
  row(id: string): SandboxRow | undefined;
  /** Resume a paused sandbox so hooks can reach its agent. */
  resume(id: string): Promise<void>;
  /**
   * Tear the sandbox down (`row`: its row as just read, else read again); false when there was
   * nothing to end. `onTeardown` is called once the teardown has begun.
   */
  end(id: string, row?: SandboxRow, onTeardown?: () => void): Promise<boolean>;
  log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
}

/** Longest a hook may run before the sandbox ends anyway (a 2 GiB workspace commit fits). */
export const ENDING_HOOK_BUDGET_MS = 180_000;

export class SandboxEndings {
  private readonly hooks = new Set<EndingHook>();
  private readonly inFlight = new Map<string, Promise<boolean>>();

  constructor(
    private readonly deps: EndingDeps,
    private readonly budgetMs = ENDING_HOOK_BUDGET_MS,
  ) {}

  on = (hook: EndingHook): (() => void) => {
    this.hooks.add(hook);
    return () => this.hooks.delete(hook);
  };

  /**
   * `beforeEnd` runs once the sandbox is found (not for one already ending: that end is shared);
   * a throw from it refuses the end. `onTeardown` is called once the teardown has begun (never
   * when this joins an end already under way: that caller waits for the whole end).
   */
  end(
    sandboxId: string,
    reason: EndReason,
    beforeEnd?: (row: SandboxRow) => Promise<void>,
    onTeardown?: () => void,
  ): Promise<boolean> {
    const running = this.inFlight.get(sandboxId);
    if (running) return running;
    const ending = this.endOnce(sandboxId, reason, beforeEnd, onTeardown).finally(() =>
      this.inFlight.delete(sandboxId),
    );
    this.inFlight.set(sandboxId, ending);
    return ending;
  }

  /** Resolves once every end under way has finished, whatever its outcome. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** One read of the row; it is read again for the teardown only if anything ran in between. */
  private async endOnce(
    sandboxId: string,
    reason: EndReason,
    beforeEnd?: (row: SandboxRow) => Promise<void>,
    onTeardown?: () => void,
  ): Promise<boolean> {
    const row = this.deps.row(sandboxId);
    if (!row || row.state === 'creating' || row.state === 'pooled') return false;
    if (beforeEnd) await beforeEnd(row);
    const hooked = (row.state === 'running' || row.state === 'paused') && this.hooks.size > 0;
    if (hooked) await this.runHooks(row, reason);
    return this.deps.end(sandboxId, beforeEnd || hooked ? undefined : row, onTeardown);
  }

  private async runHooks(row: SandboxRow, reason: EndReason): Promise<void> {
    const sandboxId = row.id;
    if (row.state === 'paused' && reason !== 'lost') {
      await this.deps.resume(sandboxId).catch((err) => this.warn(sandboxId, 'resume before ending failed', err));
    }
    for (const hook of this.hooks) await this.bounded(sandboxId, hook(sandboxId, reason));
  }

  private async bounded(sandboxId: string, work: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), this.budgetMs);
    });
    try {
      // Settles either way, so a hook that fails after its budget is not an unhandled rejection.
      const done = work.then(
        () => ({ failed: false as const }),
        (error: unknown) => ({ failed: true as const, error }),
      );
      const outcome = await Promise.race([done, expired]);
      if (outcome === 'expired') this.warn(sandboxId, `an ending hook ran over ${this.budgetMs} ms; ending anyway`);
      else if (outcome.failed) this.warn(sandboxId, 'an ending hook failed; ending anyway', outcome.error);
    } finally {
      clearTimeout(timer);
    }
  }

  private warn(sandboxId: string, msg: string, err?: unknown): void {
    this.deps.log('warn', msg, { sandbox: sandboxId, ...(err !== undefined && { error: String(err) }) });
  }
}
