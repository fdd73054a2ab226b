/**
 * Extra protocol endpoints a composition root plugs into the API server (the MCP endpoint at
 * `/mcp` is one). The server knows nothing of what they speak: it authenticates the request,
 * applies the body limit, and hands over the web-standard Request. Keeping them out of this
 * package keeps the server free of SDK and client code.
 */
import type { Context } from 'hono';
import type { AppEnv } from './env.js';
import type { Router } from './routing.js';

export interface HttpMount {
  /** Exact path, e.g. `/mcp`. GET, POST and DELETE reach `fetch`; other methods get 405. */
  path: string;
  fetch(request: Request): Promise<Response>;
  /** Called when the server stops, before it stops listening (a mount may still call the API). */
  close?(): Promise<void>;
}

export function registerMounts(router: Router, mounts: readonly HttpMount[]): void {
  for (const mount of mounts) {
    const handler = (c: Context<AppEnv>) => {
      // POST bodies were read through the size limit; hand the mount the bytes that were read.
      const body = c.req.method === 'POST' ? c.get('rawBody') : undefined;
      const raw = c.req.raw;
      const request =
        body === undefined ? raw : new Request(raw.url, { method: raw.method, headers: raw.headers, body });
      return mount.fetch(request);
    };
    router.route(mount.path, { GET: handler, POST: handler, DELETE: handler });
  }
}
