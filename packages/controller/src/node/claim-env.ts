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
  /** Last exec, process, code or file call per sandbox through the sandbox API (for idleTimeout). */
  readonly #activity = new Map<string, number>();

  constructor(engine: Engine) {
    engine.onSandboxGone((id) => {
      this.#env.delete(id);
      this.#activity.delete(id);
    });
  }

  touch(sandboxId: string): void {
    this.#activity.set(sandboxId, Date.now());
  }

  /** Unix ms of the last activity since the claim got the sandbox, if any. */
  lastActivity(sandboxId: string): number | undefined {
    return this.#activity.get(sandboxId);
  }

  async deliver(engine: Engine, sandboxId: string, delivery: ClaimDelivery): Promise<void> {
    for (const f of delivery.files ?? []) {
      await engine.files.write(sandboxId, f.path, Buffer.from(f.content, 'base64'), 0o400);
    }
    if (delivery.env && Object.keys(delivery.env).length > 0) this.#env.set(sandboxId, { ...delivery.env });
    else this.#env.delete(sandboxId);
    this.touch(sandboxId);
  }

  envOf(sandboxId: string): Record<string, string> | undefined {
    return this.#env.get(sandboxId);
  }

  forget(sandboxId: string): void {
    this.#env.delete(sandboxId);
  }
}

const ACTIVE_CALLS = new Set(['runCode', 'signalProcess', 'connectPort']);

/**
 * The engine the node's sandbox API serves: exec and processes get the claim's env underneath,
 * and every exec, process, code, port and file call counts as activity of that sandbox.
 */
export function withClaimEnv(engine: Engine, envs: ClaimEnvironments): Engine {
  return new Proxy(engine, {
    get(target, prop) {
      if (prop === 'exec' || prop === 'startProcess') {
        const original = target[prop].bind(target) as (id: string, o: { env?: Record<string, string> }) => unknown;
        return (id: string, o: { env?: Record<string, string> }) => {
          envs.touch(id);
          const base = envs.envOf(id);
          return original(id, base ? { ...o, env: { ...base, ...o.env } } : o);
        };
      }
      if (prop === 'files') {
        const files = target.files;
        return new Proxy(files, {
          get(f, method) {
            const fn = Reflect.get(f, method, f);
            if (typeof fn !== 'function') return fn;
            return (id: string, ...rest: unknown[]) => {
              envs.touch(id);
              return fn.call(f, id, ...rest);
            };
          },
        });
      }
      if (typeof prop === 'string' && ACTIVE_CALLS.has(prop)) {
        const fn = Reflect.get(target, prop, target) as (id: string, ...rest: unknown[]) => unknown;
        return (id: string, ...rest: unknown[]) => {
          envs.touch(id);
          return fn.call(target, id, ...rest);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
