/**
 * The hono app every surface of this server starts from (the public API, a node's sandbox and
 * control APIs): one error responder, so every answer is the protocol's envelope with a code
 * from its catalogue, and the same request ids, Server-Timing and request log.
 */
import { MitosError } from '@mitos/protocol';
import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { ApiServer } from './app.js';
import type { AppEnv } from './env.js';
import { createErrorResponder, type ErrorResponder } from './errors.js';
import { requestLogger } from './logging.js';
import { serverTiming } from './server-timing.js';
import { UpgradeDispatcher } from './upgrade.js';
import { quote } from './validate.js';

export function baseApp(
  logger: Logger,
  secrets: readonly string[],
): { app: Hono<AppEnv>; respondError: ErrorResponder } {
  const respondError = createErrorResponder(logger, secrets);
  const app = new Hono<AppEnv>();
  app.onError((err, c) => respondError(err, c));
  app.notFound((c) =>
    respondError(new MitosError('not_found', `no route for ${c.req.method} ${quote(c.req.path)}`), c),
  );
  app.use('*', serverTiming());
  app.use('*', requestLogger(logger));
  return { app, respondError };
}

/** A whole number >= 0 from the caller's options, else `fallback`. */
export function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) {
    throw new MitosError('invalid_request', `${name} must be a whole number >= 0 (got ${value})`);
  }
  return value;
}

/** The API's handle: upgrades fed to the app, and a close that ends what `closeAll` holds, once. */
export function apiServerOf(app: Hono<AppEnv>, closeAll: () => void): ApiServer {
  const upgrades = new UpgradeDispatcher((request, env) => app.fetch(request, env));
  let closed = false;
  return {
    app,
    handleUpgrade: upgrades.handle,
    close: () => {
      if (closed) return;
      closed = true;
      closeAll();
      upgrades.closeAll();
    },
  };
}
