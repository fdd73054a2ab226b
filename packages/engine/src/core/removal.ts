/**
 * Removing a sandbox from the host: undo everything it did (driver teardown, agent connections,
 * its row and deadline) whatever state it got to, and tell listeners it is gone.
 */
import { EventEmitter } from 'node:events';
import type { SandboxRow, StateStore } from '../state/store.js';
import type { SandboxAgents } from './agents.js';
import type { SandboxDriver } from './driver.js';

export interface RemovalDeps {
  store: StateStore;
  driver: SandboxDriver;
  agents: SandboxAgents;
  /** The deadline timer is re-armed when a sandbox that had a deadline goes. */
  rearmDeadlines(): void;
}

export class SandboxRemoval {
  private readonly events = new EventEmitter();

  constructor(private readonly deps: RemovalDeps) {
    this.events.setMaxListeners(0);
  }

  /**
   * End a sandbox that exists for callers (`read`: its row as just read); false when there is
   * none. `onTeardown` is told once no call can reach it any more and its teardown has begun.
   */
  async end(sandboxId: string, read?: SandboxRow, onTeardown?: () => void): Promise<boolean> {
    const row = read ?? this.deps.store.sandbox(sandboxId);
    if (!row || row.state === 'creating' || row.state === 'pooled') return false;
    this.deps.store.setState(sandboxId, 'terminating');
    const teardown = this.teardown(row);
    onTeardown?.();
    await teardown;
    return true;
  }

  /** Idempotent. */
  async teardown(row: SandboxRow): Promise<void> {
    const { store, driver, agents } = this.deps;
    await driver.teardown(row);
    agents.forget(row.id);
    const gone = store.deleteSandbox(row.id);
    if (gone?.hadDeadline) this.deps.rearmDeadlines();
    if (gone) this.events.emit('gone', row.id);
  }

  onGone(listener: (sandboxId: string) => void): () => void {
    this.events.on('gone', listener);
    return () => this.events.off('gone', listener);
  }
}
