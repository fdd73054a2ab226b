/**
 * POST /v1/sandboxes/{id}/forward (wire-v1.md 4.20): a loopback listener on this host bridged
 * to a port inside the sandbox. 429 too_many_forwards past the per-sandbox cap. On a server
 * with API keys the answer carries a `token` that every connection must send first (a line),
 * unless the request says `"open": true` (docs/api-extensions.md).
 */

import { ForwardRequestSchema } from '@mitos/protocol';
import type { RouteDeps } from '../env.js';
import { readJson } from '../json-body.js';
import { requireRunningSandbox } from '../lookup.js';
import type { Router } from '../routing.js';

export function registerForwardRoutes(router: Router, { engine, forwards }: RouteDeps): void {
  router.route('/v1/sandboxes/:id/forward', {
    POST: async (c) => {
      const id = c.req.param('id') ?? '';
      const { guest_port, open } = readJson(c, ForwardRequestSchema);
      requireRunningSandbox(c, engine, id, 'id');
      const { port, token } = await forwards.open(id, guest_port, { open });
      return c.json(
        token === undefined
          ? { host: `127.0.0.1:${port}`, guest_port }
          : { host: `127.0.0.1:${port}`, guest_port, token },
      );
    },
  });
}
