/**
 * Structured JSON logs: the default logger and the one-line-per-request middleware.
 * Request logs carry method, route, status, duration, request id and sandbox id. They never
 * carry headers or bodies, so neither the Authorization header nor file contents reach a log.
 */
import { randomBytes } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { type DestinationStream, type Logger, pino } from 'pino';
import type { AppEnv } from './env.js';

/** JSON lines to stdout, or to `destination` (e.g. runtime's readable format for a terminal). */
export function createLogger(destination?: DestinationStream): Logger {
  const options = {
    base: { service: 'mitos-server' },
    // Nothing logs these today; the redaction is there so a future `{ req }` log cannot leak.
    redact: { paths: ['authorization', '*.authorization', '*.headers.authorization'], censor: '[REDACTED]' },
  };
  return destination ? pino(options, destination) : pino(options);
}

export function newRequestId(): string {
  return randomBytes(8).toString('hex');
}

export function requestLogger(logger: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const requestId = newRequestId();
    c.set('requestId', requestId);
    c.set('sandboxId', undefined);
    await next();
    c.res.headers.set('X-Request-Id', requestId);
    const status = c.res.status;
    const line = {
      req_id: requestId,
      method: c.req.method,
      route: matchedRoute(c),
      status,
      duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
      sandbox: c.get('sandboxId'),
    };
    if (status >= 500) logger.warn(line, 'request');
    else logger.info(line, 'request');
  };
}

/** The route pattern (e.g. `/v1/sandboxes/:id`), so ids in paths do not fan out log keys. */
function matchedRoute(c: Parameters<MiddlewareHandler<AppEnv>>[0]): string {
  try {
    const route = routePath(c, -1);
    return route === '*' || route === '/*' ? 'unmatched' : route;
  } catch {
    return 'unmatched';
  }
}
