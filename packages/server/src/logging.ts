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
import { setResponseHeader } from './node-headers.js';

/** JSON lines to stdout, or to `destination` (e.g. runtime's readable format for a terminal). */
export function createLogger(destination?: DestinationStream): Logger {
  const options = {
    base: { service: 'mitos-server' },
    // Nothing logs these today; the redaction is there so a future `{ req }` log cannot leak.
    redact: { paths: ['authorization', '*.authorization', '*.headers.authorization'], censor: '[REDACTED]' },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Random bytes drawn ahead in one call and used once each: a call per request cost more. */
const ID_BYTES = 8;
const POOL_BYTES = 4096;
let idPool = Buffer.alloc(0);
let idOffset = 0;

export function newRequestId(): string {
  if (idOffset + ID_BYTES > idPool.length) {
    idPool = randomBytes(POOL_BYTES);
    idOffset = 0;
  }
  const id = idPool.toString('hex', idOffset, idOffset + ID_BYTES);
  idOffset += ID_BYTES;
  return id;
}

export function requestLogger(logger: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const requestId = newRequestId();
    c.set('requestId', requestId);
    c.set('sandboxId', undefined);
    await next();
    setResponseHeader(c, 'X-Request-Id', requestId);
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
