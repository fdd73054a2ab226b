/**
 * POST /v1/sandboxes/{id}/forward (wire-v1.md 4.20): a loopback listener on this host bridged
 * to a port inside the sandbox. 429 too_many_forwards past the per-sandbox cap. On a server
 * with API keys the answer carries a `token` that every connection must send first (a line),
 * unless the request says `"open": true` (docs/api-extensions.md). GET lists a sandbox's forwards
 * and DELETE .../forward/{host port} closes one.
 */

import { ForwardRequestSchema, MitosError } from '@mitos/protocol';
import type { RouteDeps } from '../env.js';
import { readJson } from '../json-body.js';
import { requireRunningSandbox, requireSandbox } from '../lookup.js';
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
    // Tokens are never listed: they were handed to whoever opened the forward.
    GET: (c) => {
      const id = c.req.param('id') ?? '';
      requireSandbox(c, engine, id, 'id');
      const forwardsOf = forwards.list(id).map((f) => ({ host: `127.0.0.1:${f.port}`, guest_port: f.guestPort }));
      return c.json({ forwards: forwardsOf });
    },
  });

  router.route('/v1/sandboxes/:id/forward/:port', {
    DELETE: (c) => {
      const id = c.req.param('id') ?? '';
      requireSandbox(c, engine, id, 'id');
      const raw = c.req.param('port') ?? '';
      const port = /^\d{1,5}$/.test(raw) ? Number(raw) : 0;
      if (!forwards.close(id, port)) {
        throw new MitosError('not_found', `sandbox "${id}" has no forward on 127.0.0.1:${raw}`, { sandbox: id });
      }
      return c.json({ status: 'closed', host: `127.0.0.1:${port}` });
    },
  });
}
