/**
 * The sandbox log E2B's `logs` endpoints return: what this surface did to each sandbox
 * (created, processes started and ended, paused, resumed...). Kept in memory, bounded per
 * sandbox, dropped when the sandbox goes.
 */
const MAX_PER_SANDBOX = 500;

export interface SandboxEvent {
  timestamp: Date;
  level: 'info' | 'warn' | 'error';
  message: string;
  fields: Record<string, string>;
}

export class SandboxEvents {
  readonly #bySandbox = new Map<string, SandboxEvent[]>();

  add(
    sandboxId: string,
    message: string,
    fields: Record<string, string> = {},
    level: SandboxEvent['level'] = 'info',
  ): void {
    let list = this.#bySandbox.get(sandboxId);
    if (list === undefined) {
      list = [];
      this.#bySandbox.set(sandboxId, list);
    }
    list.push({ timestamp: new Date(), level, message, fields });
    if (list.length > MAX_PER_SANDBOX) list.splice(0, list.length - MAX_PER_SANDBOX);
  }

  list(sandboxId: string): SandboxEvent[] {
    return [...(this.#bySandbox.get(sandboxId) ?? [])];
  }

  drop(sandboxId: string): void {
    this.#bySandbox.delete(sandboxId);
  }
}
