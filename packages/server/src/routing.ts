/**
 * Route registration with the HTTP semantics hono leaves to us: a known path called with the
 * wrong method answers 405 with an Allow header (as Go's mux does for the seed server), and
 * body-carrying methods read their body through the size limit first. `all` is for proxies:
 * every method, and the body left unread so it can stream through.
 */
import { MAX_BODY_BYTES, MitosError } from '@mitos/protocol';
import type { Handler, Hono } from 'hono';
import type { AppEnv } from './env.js';
import type { ErrorResponder } from './errors.js';
import { bodyLimit } from './middleware/body-limit.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export type RouteHandlers = Partial<Record<Method, Handler<AppEnv>>>;

export interface Router {
  route(path: string, handlers: RouteHandlers): void;
  all(path: string, handler: Handler<AppEnv>): void;
}

export function createRouter(app: Hono<AppEnv>, respondError: ErrorResponder): Router {
  const limitBody = bodyLimit(MAX_BODY_BYTES);
  return {
    route(path, handlers) {
      const methods = Object.keys(handlers) as Method[];
      for (const method of methods) {
        const handler = handlers[method] as Handler<AppEnv>;
        if (method === 'POST' || method === 'PUT') app.on(method, path, limitBody, handler);
        else app.on(method, path, handler);
      }
      // hono answers HEAD through the GET handler, so HEAD is allowed wherever GET is.
      const allow = methods.flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])).join(', ');
      app.all(path, (c) =>
        respondError(
          new MitosError('method_not_allowed', `${c.req.method} is not allowed on ${path}; use ${allow}`),
          c,
          { Allow: allow },
        ),
      );
    },
    all(path, handler) {
      app.all(path, handler);
    },
  };
}
