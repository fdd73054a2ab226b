/** GET /v1/openapi.json: the API as OpenAPI 3.1, rendered from the protocol's zod schemas. */
import { openApiDocument } from '@mitos/protocol';
import type { RouteDeps } from '../env.js';
import type { Router } from '../routing.js';

export function registerOpenApiRoutes(router: Router, deps: RouteDeps): void {
  const document = openApiDocument(deps.version);
  router.route('/v1/openapi.json', { GET: (c) => c.json(document) });
}
