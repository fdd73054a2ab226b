/**
 * Composition: the middleware chain and every route, in one place. Order matters: the request
 * logger wraps everything (so 401s and 404s are logged too), then host-form previews (their
 * token is their credential), then auth guards every other route including health and unknown
 * paths (path-form previews excepted, for the same reason), then the routes.
 *
 * createApiServer also builds what outlives a request: stream and forward registries, the
 * terminal WebSocket server, and the upgrade handler the node server feeds.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { consoleAssetsDir } from '@mitos/console';
import { commitWritersOnEnd, type Engine, type Workspaces } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import type { Database } from 'better-sqlite3';
import type { Hono } from 'hono';
import type { Logger } from 'pino';
import { apiServerOf, baseApp, nonNegative } from './app-base.js';
import { registerConnectRoutes } from './connect/mount.js';
import { consoleRoutes, loadConsoleAssets } from './console/static.js';
import { createE2bSurface } from './e2b/index.js';
import type { AppEnv, RouteDeps, SandboxRouteDeps } from './env.js';
import { ForwardRegistry } from './forwards.js';
import { IdClaims } from './id-claims.js';
import { IdempotencyStore } from './idempotency.js';
import { createLogger } from './logging.js';
import { bearerAuth, normalizeApiKeys, type SandboxTokenVerifier } from './middleware/auth.js';
import { type HttpMount, registerMounts } from './mounts.js';
import { resolvePreviewSecret } from './preview/secret.js';
import { PreviewSigner } from './preview/token.js';
import { createTerminalSocketServer } from './pty/websocket.js';
import { registerEventRoutes } from './routes/events.js';
import { registerExecRoutes } from './routes/exec.js';
import { registerExecStreamRoutes } from './routes/exec-stream.js';
import { registerFileRoutes } from './routes/files.js';
import { registerForwardRoutes } from './routes/forward.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerLifecycleRoutes } from './routes/lifecycle.js';
import { registerLiveForkRoutes } from './routes/live-fork.js';
import { registerMeteringRoutes } from './routes/metering.js';
import { registerNetworkRoutes } from './routes/network.js';
import { registerOpenApiRoutes } from './routes/openapi.js';
import {
  DEFAULT_PREVIEW_TTL_SECONDS,
  isPreviewPath,
  previewHostProxy,
  registerPreviewRoutes,
} from './routes/preview.js';
import { registerProcessRoutes } from './routes/processes.js';
import { registerPtyRoutes } from './routes/pty.js';
import { registerRunCodeRoutes } from './routes/run-code.js';
import { registerSandboxRoutes } from './routes/sandboxes.js';
import { registerTemplateRoutes } from './routes/templates.js';
import { registerWorkspaceRoutes } from './routes/workspaces.js';
import { createRouter } from './routing.js';
import { ServerSettings } from './settings.js';
import { DEFAULT_MAX_STREAMS_PER_SANDBOX, StreamRegistry } from './streaming/registry.js';
import { quote } from './validate.js';
import { packageVersion } from './version.js';

export const DEFAULT_MAX_EXEC_TIMEOUT_SECONDS = 86_400;

/** What the sandbox routes need, the same for the public API and a node's sandbox API. */
export function sandboxRouteDeps(
  deps: { engine: Engine; version?: string; maxExecTimeoutSeconds?: number; maxStreamsPerSandbox?: number },
  logger: Logger,
): SandboxRouteDeps {
  return {
    engine: deps.engine,
    logger,
    version: deps.version ?? packageVersion(),
    maxExecTimeoutSeconds: nonNegative(
      'maxExecTimeoutSeconds',
      deps.maxExecTimeoutSeconds,
      DEFAULT_MAX_EXEC_TIMEOUT_SECONDS,
    ),
    streams: new StreamRegistry(
      nonNegative('maxStreamsPerSandbox', deps.maxStreamsPerSandbox, DEFAULT_MAX_STREAMS_PER_SANDBOX),
    ),
  };
}

export interface AppDeps {
  engine: Engine;
  /** Holds the idempotency_keys and server_settings tables (created if missing). */
  db: Database;
  /** Empty or absent: tokenless. */
  apiKeys?: string[];
  /** Cluster mode: requests naming a sandbox need that sandbox's own token (middleware/auth.ts). */
  sandboxTokens?: SandboxTokenVerifier;
  /** Ceiling for exec, run_code and set_timeout seconds; 0 = none. Default 86400. */
  maxExecTimeoutSeconds?: number;
  /** Concurrent exec/run_code/process streams and terminals per sandbox; 0 = unlimited. Default 16. */
  maxStreamsPerSandbox?: number;
  /** Deadline given to every sandbox a fork creates, in seconds; 0 or absent = none. */
  defaultLifetimeSeconds?: number;
  /** Lifetime of minted preview URLs. Default 3600. */
  previewTtlSeconds?: number;
  /** The `domain` the E2B surface reports (sandbox.getHost); absent: derived from the request's Host. */
  e2bDomain?: string;
  /** Serve host-form preview URLs (`https://<id>.preview.<domain>/`); absent: path form. */
  previewDomain?: string;
  /** Preview signing secret (>= 16 bytes). Default: env MITOS_PREVIEW_SECRET, else generated and kept in `db`. */
  previewSecret?: string;
  logger?: Logger;
  version?: string;
  /**
   * Base URL reported as a sandbox's `endpoint`; absent: the origin each request used. A
   * function, because startServer learns its port only after the app exists.
   */
  publicUrl?: string | (() => string | undefined);
  /** Endpoints the composition root adds behind the same auth (e.g. `/mcp`). */
  mounts?: readonly HttpMount[];
  /** The built web console served at /console; default the @mitos/console bundle, null: none. */
  consoleDir?: string | null;
  /** Workspaces (named, versioned /workspace trees); absent: their routes answer not_implemented. */
  workspaces?: Workspaces;
}

export interface ApiServer {
  app: Hono<AppEnv>;
  /** For the node HTTP server's 'upgrade' event (terminals, proxied WebSockets). */
  handleUpgrade(incoming: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Closes forwards, terminals and proxied sockets, and ends open streams. Idempotent. */
  close(): void;
}

export function createApiServer(deps: AppDeps): ApiServer {
  const apiKeys = normalizeApiKeys(deps.apiKeys);
  const logger = deps.logger ?? createLogger();
  const { engine, publicUrl } = deps;
  const previewDomain = normalizePreviewDomain(deps.previewDomain);
  const routeDeps: RouteDeps = {
    ...sandboxRouteDeps(deps, logger),
    idempotency: new IdempotencyStore(deps.db),
    publicUrl: typeof publicUrl === 'function' ? publicUrl : () => publicUrl,
    forwards: new ForwardRegistry((id, port) => engine.connectPort(id, port), undefined, apiKeys.length > 0),
    preview: {
      signer: new PreviewSigner(
        resolvePreviewSecret(deps.previewSecret ?? process.env.MITOS_PREVIEW_SECRET, new ServerSettings(deps.db)),
      ),
      ttlSeconds: positive('previewTtlSeconds', deps.previewTtlSeconds, DEFAULT_PREVIEW_TTL_SECONDS),
      domain: previewDomain,
    },
    idClaims: new IdClaims(),
    defaultLifetimeSeconds: nonNegative('defaultLifetimeSeconds', deps.defaultLifetimeSeconds, 0),
    workspaces: deps.workspaces,
  };
  const terminals = createTerminalSocketServer();
  const { app, respondError } = baseApp(logger, apiKeys);
  // E2B-compatible surface (/e2b, its port hosts, signed file URLs), with its own credentials.
  const e2b = createE2bSurface({
    engine,
    db: deps.db,
    apiKeys,
    logger,
    maxTimeoutSeconds: routeDeps.maxExecTimeoutSeconds,
    domain: deps.e2bDomain,
  });
  app.use('*', e2b.middleware);
  app.use(
    '*',
    consoleRoutes(
      loadConsoleAssets(deps.consoleDir === undefined ? consoleAssetsDir() : (deps.consoleDir ?? undefined)),
    ),
  );
  if (previewDomain) app.use('*', previewHostProxy(routeDeps, previewDomain));
  const auth = bearerAuth(apiKeys, deps.sandboxTokens);
  app.use('*', (c, next) => (isPreviewPath(c.req.path) ? next() : auth(c, next)));

  const router = createRouter(app, respondError);
  registerHealthRoutes(router, routeDeps);
  registerOpenApiRoutes(router, routeDeps);
  registerTemplateRoutes(router, routeDeps);
  registerSandboxRoutes(router, routeDeps);
  registerLiveForkRoutes(router, routeDeps);
  registerForwardRoutes(router, routeDeps);
  registerExecRoutes(router, routeDeps);
  registerExecStreamRoutes(router, routeDeps);
  registerRunCodeRoutes(router, routeDeps);
  registerFileRoutes(router, routeDeps);
  registerLifecycleRoutes(router, routeDeps);
  registerWorkspaceRoutes(router, routeDeps);
  registerProcessRoutes(router, routeDeps);
  registerMeteringRoutes(router, routeDeps);
  registerNetworkRoutes(router, routeDeps);
  registerPreviewRoutes(router, routeDeps);
  registerPtyRoutes(router, routeDeps, terminals);
  registerMounts(router, deps.mounts ?? []);
  const shutdown = new AbortController();
  registerEventRoutes(router, routeDeps, shutdown.signal);
  const connect = registerConnectRoutes(router, routeDeps, apiKeys);

  // A bound sandbox commits however it ends (E2B/Connect kill, deadline), not only through DELETE.
  const stopCommitting = deps.workspaces ? commitWritersOnEnd(engine, deps.workspaces) : () => {};
  const unsubscribe = engine.onSandboxGone((id) => {
    routeDeps.forwards.closeSandbox(id);
    routeDeps.streams.abortSandbox(id);
    // Gone without passing the ending hook (an engine closing): the workspace is free again.
    routeDeps.workspaces?.release(id);
  });
  return apiServerOf(app, () => {
    unsubscribe();
    stopCommitting();
    e2b.close();
    shutdown.abort();
    routeDeps.forwards.closeAll();
    routeDeps.streams.abortAll();
    terminals.close();
    connect.close();
  });
}

/** The hono app alone, for in-process use (`app.request()`); no upgrades, nothing to close. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  return createApiServer(deps).app;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const n = nonNegative(name, value, fallback);
  if (n === 0) throw new MitosError('invalid_request', `${name} must be at least 1`);
  return n;
}

function normalizePreviewDomain(domain: string | undefined): string | undefined {
  if (domain === undefined || domain === '') return undefined;
  const clean = domain.toLowerCase().replace(/^\.+|\.+$/g, '');
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(clean)) {
    throw new MitosError(
      'invalid_request',
      `previewDomain ${quote(domain)} is not a host name (no scheme, port or path)`,
    );
  }
  return clean;
}
