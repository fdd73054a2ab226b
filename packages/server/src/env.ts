/**
 * The per-request variables every middleware and route shares, and the dependencies the app
 * is built from. Kept in one place so a route's `c.get('...')` is typed everywhere.
 */
import type { Engine } from '@mitos/engine';
import type { Logger } from 'pino';
import type { IdempotencyStore } from './idempotency.js';

export interface AppVariables {
  requestId: string;
  /** Set by a route once it knows which sandbox the request is about (for the request log). */
  sandboxId: string | undefined;
  /** The bounded, fully read request body (set by the body-limit middleware). */
  rawBody: Uint8Array | undefined;
}

export interface AppEnv {
  Variables: AppVariables;
}

/** Everything a route needs, resolved once at startup. */
export interface RouteDeps {
  engine: Engine;
  idempotency: IdempotencyStore;
  logger: Logger;
  version: string;
  /** 0 means no ceiling (the reference server's flag semantics). */
  maxExecTimeoutSeconds: number;
  /** Our own base URL when it is known from the listen address; else derived per request. */
  publicUrl: () => string | undefined;
}
