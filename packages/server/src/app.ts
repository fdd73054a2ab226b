/**
 * Composition: the middleware chain and every route, in one place. Order matters: the request
 * logger wraps everything (so 401s and 404s are logged too), then auth guards every route
 * including health and unknown paths, then the routes.
 */
import type { Engine } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import type { Database } from 'better-sqlite3';
import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { AppEnv, RouteDeps } from './env.js';
import { createErrorResponder } from './errors.js';
import { IdempotencyStore } from './idempotency.js';
import { createLogger, requestLogger } from './logging.js';
import { bearerAuth, normalizeApiKeys } from './middleware/auth.js';
import { registerExecRoutes } from './routes/exec.js';
import { registerFileRoutes } from './routes/files.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerSandboxRoutes } from './routes/sandboxes.js';
import { registerTemplateRoutes } from './routes/templates.js';
import { createRouter } from './routing.js';
import { quote } from './validate.js';
import { packageVersion } from './version.js';

export const DEFAULT_MAX_EXEC_TIMEOUT_SECONDS = 86_400;

export interface AppDeps {
  engine: Engine;
  /** Holds the idempotency_keys table (created if missing). */
  db: Database;
  /** Empty or absent: tokenless. */
  apiKeys?: string[];
  /** Ceiling for exec timeouts in seconds; 0 = none. Default 86400. */
  maxExecTimeoutSeconds?: number;
  logger?: Logger;
  version?: string;
  /**
   * Base URL reported as a sandbox's `endpoint`; absent: the origin each request used. A
   * function, because startServer learns its port only after the app exists.
   */
  publicUrl?: string | (() => string | undefined);
}

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const apiKeys = normalizeApiKeys(deps.apiKeys);
  const logger = deps.logger ?? createLogger();
  const { publicUrl } = deps;
  const routeDeps: RouteDeps = {
    engine: deps.engine,
    idempotency: new IdempotencyStore(deps.db),
    logger,
    version: deps.version ?? packageVersion(),
    maxExecTimeoutSeconds: deps.maxExecTimeoutSeconds ?? DEFAULT_MAX_EXEC_TIMEOUT_SECONDS,
    publicUrl: typeof publicUrl === 'function' ? publicUrl : () => publicUrl,
  };
  const respondError = createErrorResponder(logger, apiKeys);

  const app = new Hono<AppEnv>();
  app.onError((err, c) => respondError(err, c));
  app.notFound((c) =>
    respondError(new MitosError('not_found', `no route for ${c.req.method} ${quote(c.req.path)}`), c),
  );
  app.use('*', requestLogger(logger));
  app.use('*', bearerAuth(apiKeys));

  const router = createRouter(app, respondError);
  registerHealthRoutes(router, routeDeps);
  registerTemplateRoutes(router, routeDeps);
  registerSandboxRoutes(router, routeDeps);
  registerExecRoutes(router, routeDeps);
  registerFileRoutes(router, routeDeps);
  return app;
}
