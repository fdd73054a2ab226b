/**
 * The sandboxes one agent session may touch. A session acts only on sandboxes it created,
 * forked or was handed: an id from another session (another client of the same server) is
 * refused as if it did not exist, so a prompt-injected agent cannot reach a neighbour's work.
 * The first sandbox becomes the default, so tools may omit `sandbox_id`. Closing the session
 * terminates what it created unless that was marked kept.
 * @module
 */
import type { Sandbox, SandboxServer } from '@mitos/sdk';
import { ToolInputError } from './errors.js';

export interface ToolSessionOptions {
  /** Server to create sandboxes on; absent, the session can only use sandboxes it is given. */
  server?: SandboxServer | undefined;
  /** Sandboxes the caller owns: usable, never terminated by the session. The first is the default. */
  sandboxes?: Sandbox[] | undefined;
}

interface Owned {
  sandbox: Sandbox;
  keep: boolean;
}

export class ToolSession {
  readonly server: SandboxServer | undefined;
  readonly #owned = new Map<string, Owned>();
  #defaultId: string | undefined;
  #closed = false;

  constructor(opts: ToolSessionOptions = {}) {
    this.server = opts.server;
    for (const sb of opts.sandboxes ?? []) this.adopt(sb, { keep: true });
  }

  get defaultId(): string | undefined {
    return this.#defaultId;
  }

  /** The sandbox named by `id`, or the default one. */
  resolve(id: string | undefined): Sandbox {
    this.#assertOpen();
    const wanted = id ?? this.#defaultId;
    if (wanted === undefined) {
      throw new ToolInputError(
        'invalid_request',
        'no sandbox_id given and this session has no sandbox yet',
        'call create_sandbox first (it becomes the default), or pass sandbox_id',
        { field: 'sandbox_id' },
      );
    }
    const owned = this.#owned.get(wanted);
    if (!owned) {
      throw new ToolInputError(
        'not_found',
        `sandbox "${wanted}" is not one this session created or forked`,
        'use an id from list_sandboxes, or create_sandbox to make a new one',
        { sandbox: wanted },
      );
    }
    return owned.sandbox;
  }

  adopt(sandbox: Sandbox, opts: { keep: boolean; makeDefault?: boolean }): void {
    this.#assertOpen();
    this.#owned.set(sandbox.id, { sandbox, keep: opts.keep });
    if (this.#defaultId === undefined || opts.makeDefault) this.#defaultId = sandbox.id;
  }

  /** Forget a sandbox (after it was terminated); the default moves to the oldest remaining one. */
  release(id: string): void {
    this.#owned.delete(id);
    if (this.#defaultId === id) this.#defaultId = this.#owned.keys().next().value;
  }

  list(): Array<{ sandbox: Sandbox; keep: boolean; isDefault: boolean }> {
    return [...this.#owned.values()].map((o) => ({ ...o, isDefault: o.sandbox.id === this.#defaultId }));
  }

  requireServer(tool: string): SandboxServer {
    if (this.server) return this.server;
    throw new ToolInputError(
      'not_implemented',
      `${tool} needs a server connection and this tool set was made for given sandboxes only`,
      'create sandboxes with the SDK (`create()`) and pass them in, or use the MCP server',
    );
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Terminate every sandbox this session created and did not keep. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const doomed = [...this.#owned.values()].filter((o) => !o.keep).map((o) => o.sandbox);
    this.#owned.clear();
    this.#defaultId = undefined;
    const results = await Promise.allSettled(doomed.map((sb) => sb.terminate()));
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length > 0) {
      throw new AggregateError(
        failed.map((r) => (r as PromiseRejectedResult).reason),
        `${failed.length} of ${doomed.length} session sandboxes could not be terminated`,
      );
    }
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new ToolInputError('conflict', 'this tool session is closed', 'open a new session (reconnect)');
    }
  }
}
