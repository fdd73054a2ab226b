/**
 * GET /v1/sandboxes/:id/network (the effective posture) and PUT (change it live: new
 * connections follow the new posture at once, connections opened under the old one are cut).
 * Bodies and answers are the wire posture (wire-v1.md 4.2 keys); see docs/networking.md. The
 * engine's call is the one lookup (reading works on a paused sandbox, changing needs it running).
 */

import { z } from 'zod';
import type { SandboxRouteDeps } from '../env.js';
import { readJson } from '../json-body.js';
import { sandboxIdOf } from '../lookup.js';
import { resolveNetwork } from '../network.js';
import type { Router } from '../routing.js';

const AnyBody = z.unknown();

export function registerNetworkRoutes(router: Router, { engine }: SandboxRouteDeps): void {
  router.route('/v1/sandboxes/:id/network', {
    GET: (c) => {
      return c.json(engine.getNetwork(sandboxIdOf(c, c.req.param('id') ?? '', 'id')));
    },
    PUT: async (c) => {
      const id = c.req.param('id') ?? '';
      const posture = resolveNetwork(readJson(c, AnyBody));
      return c.json(await engine.setNetwork(sandboxIdOf(c, id, 'id'), posture));
    },
  });
}
