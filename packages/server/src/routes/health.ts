/** GET /v1/health (wire-v1.md 4.1): liveness plus counts and the warm pool; `mock` is always false here. */
import type { HealthResponse } from '@mitos/protocol';
import type { SandboxRouteDeps } from '../env.js';
import { liveSandboxes } from '../lookup.js';
import type { Router } from '../routing.js';

export function registerHealthRoutes(router: Router, deps: SandboxRouteDeps): void {
  router.route('/v1/health', {
    GET: (c) => {
      const body: HealthResponse = {
        status: 'ok',
        mock: false,
        templates: deps.engine.listTemplates().length,
        sandboxes: liveSandboxes(deps.engine).length,
        engine: deps.engine.name,
        version: deps.version,
      };
      const pool = deps.engine.pool?.status();
      if (pool) body.warm_pool = pool;
      return c.json(body);
    },
  });
}
