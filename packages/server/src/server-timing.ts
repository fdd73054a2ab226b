/**
 * The `Server-Timing` header (W3C Server Timing): how long this server spent reading and
 * parsing the request (`parse`), finding the sandbox (`lookup`), waiting on the engine
 * (`engine`), and in all until the response headers (`total`), in milliseconds. Any client
 * can then tell the server's share of a round trip from the network's and its own.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from './env.js';
import { setResponseHeader } from './node-headers.js';

export type TimingPhase = 'parse' | 'lookup' | 'engine';

export class ServerTiming {
  readonly #start = performance.now();
  readonly #spent = new Map<TimingPhase, number>();

  add(phase: TimingPhase, ms: number): void {
    this.#spent.set(phase, (this.#spent.get(phase) ?? 0) + ms);
  }

  header(): string {
    const parts = [...this.#spent].map(([phase, ms]) => `${phase};dur=${ms.toFixed(3)}`);
    parts.push(`total;dur=${(performance.now() - this.#start).toFixed(3)}`);
    return parts.join(', ');
  }
}

/** Outermost middleware: starts the clock and writes the header on whatever the app answered. */
export function serverTiming(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const timing = new ServerTiming();
    c.set('timing', timing);
    await next();
    try {
      setResponseHeader(c, 'Server-Timing', timing.header());
    } catch {
      // A proxied response (preview, port forward) keeps the upstream's immutable headers.
    }
  };
}

/** Runs `fn`, adding its time to `phase` (nothing when the app runs without the middleware). */
export function timeSync<T>(c: Context<AppEnv>, phase: TimingPhase, fn: () => T): T {
  const start = performance.now();
  try {
    return fn();
  } finally {
    c.get('timing')?.add(phase, performance.now() - start);
  }
}

/** As timeSync, for a promise (an engine call). */
export async function timeAsync<T>(c: Context<AppEnv>, phase: TimingPhase, work: Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await work;
  } finally {
    c.get('timing')?.add(phase, performance.now() - start);
  }
}
