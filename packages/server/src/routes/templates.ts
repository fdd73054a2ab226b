/**
 * GET /v1/templates and POST /v1/templates (wire-v1.md 4.2, 4.3). Create is get-or-create:
 * an existing id answers 200 with its record, never 409, because the seed SDK's plain
 * `create_template` must succeed on reruns.
 */
import { CreateTemplateRequestSchema } from '@mitos/protocol';
import { z } from 'zod';
import type { RouteDeps } from '../env.js';
import { idempotencyKeyFrom, runIdempotent } from '../idempotency.js';
import { readJson } from '../json-body.js';
import { optionalNetwork, resolveNetwork } from '../network.js';
import { requestHeader } from '../node-headers.js';
import { toTemplateRecord } from '../records.js';
import type { Router } from '../routing.js';
import { refuseUnsupported, requireId } from '../validate.js';
import { registerTemplateBuildRoutes, startSpecBuild } from './template-builds.js';

/** Sent by the 0.3.x clients' create_template when the caller sets them. */
const TEMPLATE_FIELDS_NOT_SERVED = {
  workload: 'omit workload: start long-running processes after create with POST /v1/processes',
  resources: 'omit resources: set per-sandbox limits with `limits` on POST /v1/fork',
};

// `network` is validated by resolveNetwork so its errors read "invalid network config: ...".
const CreateTemplateBody = CreateTemplateRequestSchema.omit({ network: true, build_network: true }).extend({
  network: z.unknown().optional(),
  build_network: z.unknown().optional(),
});

export function registerTemplateRoutes(router: Router, deps: RouteDeps): void {
  const { engine, idempotency } = deps;
  router.route('/v1/templates', {
    GET: (c) => c.json(engine.listTemplates().map(toTemplateRecord)),
    POST: async (c) => {
      const body = readJson(c, CreateTemplateBody);
      refuseUnsupported(body, TEMPLATE_FIELDS_NOT_SERVED);
      const id = requireId(body.id, 'id');
      const network = resolveNetwork(body.network ?? body.spec?.network);
      if (body.spec) {
        const started = startSpecBuild(engine, {
          id,
          spec: body.spec,
          context: body.context,
          noCache: body.no_cache,
          network,
          buildNetwork: optionalNetwork(body.build_network),
        });
        return c.json(started, 202);
      }
      refuseUnsupported(body, {
        context: 'send context with a spec',
        no_cache: 'send no_cache with a spec',
        build_network: 'send build_network with a spec',
      });
      const key = idempotencyKeyFrom(requestHeader(c, 'Idempotency-Key'));
      const record = await runIdempotent(idempotency, key, 'template', {
        lookup: (boundId) => {
          const existing = engine.getTemplate(boundId);
          return existing && toTemplateRecord(existing);
        },
        create: async () => {
          const existed = engine.getTemplate(id) !== undefined;
          const template = await engine.ensureTemplate({
            id,
            network,
          });
          const record = toTemplateRecord(template);
          return { id: template.id, value: existed ? record : { ...record, created: true } };
        },
      });
      return c.json(record);
    },
  });
  registerTemplateBuildRoutes(router, deps);
}
