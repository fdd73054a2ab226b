/**
 * The per-request variables every middleware and route shares, and the dependencies the app
 * is built from. Kept in one place so a route's `c.get('...')` is typed everywhere.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Engine, Workspaces } from '@mitos/engine';
import type { Logger } from 'pino';
import type { ForwardRegistry } from './forwards.js';
import type { IdClaims } from './id-claims.js';
import type { IdempotencyStore } from './idempotency.js';
import type { PreviewSigner } from './preview/token.js';
import type { ServerTiming } from './server-timing.js';
import type { StreamRegistry } from './streaming/registry.js';

export interface AppVariables {
  requestId: string;
  /** Set by a route once it knows which sandbox the request is about (for the request log). */
  sandboxId: string | undefined;
  /** The bounded, fully read request body (set by the body-limit middleware). */
  rawBody: Uint8Array | undefined;
  /** Where parse, lookup and engine time go for the Server-Timing header. */
  timing: ServerTiming | undefined;
}

/**
 * A WebSocket (or other) upgrade handed to the app by the server's 'upgrade' event. A route
 * that takes over the socket calls `claim()`; otherwise the response it returns is written
 * to the socket as plain HTTP.
 */
export interface UpgradeRequest {
  readonly incoming: IncomingMessage;
  readonly socket: Duplex;
  readonly head: Buffer;
  claim(): void;
}

/**
 * What @hono/node-server passes as `c.env` (absent under `app.request()` in tests), plus
 * `upgrade` when the request arrived through the upgrade handler.
 */
export interface AppBindings {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
  upgrade?: UpgradeRequest;
}

export interface AppEnv {
  Bindings: AppBindings;
  Variables: AppVariables;
}

export interface PreviewSettings {
  signer: PreviewSigner;
  ttlSeconds: number;
  /** Host-form URLs (`https://<id>.preview.<domain>/`) when set; path form otherwise. */
  domain: string | undefined;
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
  streams: StreamRegistry;
  forwards: ForwardRegistry;
  preview: PreviewSettings;
  /** Sandbox ids with a create or fork in progress, shared by every route that makes sandboxes. */
  idClaims: IdClaims;
  /** Lifetime given to every new sandbox, in seconds; 0 = none. */
  defaultLifetimeSeconds: number;
  /** Named, versioned /workspace trees; absent: the workspace routes answer not_implemented. */
  workspaces: Workspaces | undefined;
}

/** What the sandbox routes need, and all a node daemon builds for them (node-app.ts). */
export type SandboxRouteDeps = Pick<RouteDeps, 'engine' | 'logger' | 'version' | 'maxExecTimeoutSeconds' | 'streams'>;
