/**
 * What a claim delivers into its sandbox (crd-v1.md 5: `env`, and `secrets` as env or as
 * files): files are written once when the claim gets its sandbox; env is kept per sandbox in
 * memory and overlaid on every command the sandbox API starts (request env wins), as the
 * seed's guest env is. Values are never logged.
 */
import type { Engine } from '@mitos/engine';

export interface ClaimDelivery {
  env?: Record<string, string>;
  /** Absolute paths inside the sandbox; content base64; written 0400. */
  files?: Array<{ path: string; content: string }>;
}

export class ClaimEnvironments {
  readonly #env = new Map<string, Record<string, string>>();

  constructor(engine: Engine) {
    engine.onSandboxGone((id) => this.#env.delete(id));
  }

  async deliver(engine: Engine, sandboxId: string, delivery: ClaimDelivery): Promise<void> {
    for (const f of delivery.files ?? []) {
      await engine.files.write(sandboxId, f.path, Buffer.from(f.content, 'base64'), 0o400);
    }
    if (delivery.env && Object.keys(delivery.env).length > 0) this.#env.set(sandboxId, { ...delivery.env });
    else this.#env.delete(sandboxId);
  }

  envOf(sandboxId: string): Record<string, string> | undefined {
    return this.#env.get(sandboxId);
  }

  forget(sandboxId: string): void {
    this.#env.delete(sandboxId);
  }
}

/** The engine the node's sandbox API serves: exec and processes get the claim's env underneath. */
export function withClaimEnv(engine: Engine, envs: ClaimEnvironments): Engine {
  return new Proxy(engine, {
    get(target, prop) {
      if (prop === 'exec' || prop === 'startProcess') {
        const original = target[prop].bind(target) as (id: string, o: { env?: Record<string, string> }) => unknown;
        return (id: string, o: { env?: Record<string, string> }) => {
          const base = envs.envOf(id);
          return original(id, base ? { ...o, env: { ...base, ...o.env } } : o);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
