/**
 * Templates as code over HTTP: POST /v1/templates with a `spec` starts a build (202),
 * GET /v1/templates/{id}/build streams its events as NDJSON (replayed from the start, then
 * live), DELETE /v1/templates/{id}, POST /v1/templates/prune, and the content-addressed build
 * context (POST /v1/template-context/missing lists what the server lacks; POST
 * /v1/template-context/{sha256} uploads one blob).
 */
import { Readable } from 'node:stream';
import type { Engine, TemplateBuildService } from '@mitos/engine';
import {
  type BuildContext,
  ContextMissingRequestSchema,
  MitosError,
  type NetworkPosture,
  PushTemplateRequestSchema,
  type TemplateBuildEvent,
  type TemplateSpec,
} from '@mitos/protocol';
import type { RouteDeps } from '../env.js';
import { readJson } from '../json-body.js';
import type { Router } from '../routing.js';
import { ndjsonResponse } from '../streaming/ndjson.js';
import { TemplateBuilds } from '../template-builds.js';
import { requireId } from '../validate.js';

const registries = new WeakMap<Engine, TemplateBuilds>();

function buildsOf(engine: Engine): TemplateBuilds {
  let builds = registries.get(engine);
  if (!builds) {
    builds = new TemplateBuilds();
    registries.set(engine, builds);
  }
  return builds;
}

function service(engine: Engine): TemplateBuildService {
  if (!engine.templateBuilds) {
    throw new MitosError(
      'not_implemented',
      `the ${engine.name} engine cannot build templates from a spec`,
      {},
      {
        remediation: 'run the server with the Linux engine on btrfs storage',
      },
    );
  }
  return engine.templateBuilds;
}

export interface SpecBuildRequest {
  id: string;
  spec: TemplateSpec;
  context?: BuildContext;
  noCache?: boolean;
  network: NetworkPosture;
  /** The build steps' posture; the template's when absent. */
  buildNetwork?: NetworkPosture;
}

/** Start building `request.id` from its spec; the answer says where to follow it. */
export function startSpecBuild(
  engine: Engine,
  request: SpecBuildRequest,
): { id: string; status: 'building'; build_url: string } {
  const builds = service(engine);
  if (request.context && !builds.context) {
    throw new MitosError('not_implemented', 'this server has no build context store');
  }
  const options = {
    id: request.id,
    spec: request.spec,
    context: request.context,
    noCache: request.noCache,
    network: request.network,
    ...(request.buildNetwork ? { buildNetwork: request.buildNetwork } : {}),
  };
  // What the build would refuse before its first step is answered now, not as a stream event.
  builds.check(options);
  buildsOf(engine).start(request.id, (build) =>
    builds.build({
      ...options,
      onEvent: (event: TemplateBuildEvent) => build.emit(event),
      signal: build.controller.signal,
    }),
  );
  return { id: request.id, status: 'building', build_url: `/v1/templates/${request.id}/build` };
}

export function registerTemplateBuildRoutes(router: Router, { engine }: RouteDeps): void {
  router.route('/v1/templates/prune', {
    POST: async (c) => c.json(await service(engine).prune()),
  });
  router.route('/v1/template-context/missing', {
    POST: (c) => {
      const body = readJson(c, ContextMissingRequestSchema);
      const store = service(engine).context;
      if (!store) throw new MitosError('not_implemented', 'this server has no build context store');
      return c.json({ missing: store.missing(body.digests) });
    },
  });
  router.route('/v1/template-context/:sha256', {
    POST: async (c) => {
      const store = service(engine).context;
      if (!store) throw new MitosError('not_implemented', 'this server has no build context store');
      const raw = c.get('rawBody') ?? new Uint8Array(0);
      const digest = c.req.param('sha256') ?? '';
      const offset = c.req.query('offset');
      const total = c.req.query('total');
      // A blob over one request body's limit travels in parts (?offset=&total=).
      if (offset !== undefined || total !== undefined) {
        const receipt = await store.putPart(digest, byteCount('offset', offset), byteCount('total', total), raw);
        return c.json({ status: 'ok', ...receipt });
      }
      await store.put(digest, Readable.from([Buffer.from(raw)]));
      return c.json({ status: 'ok' });
    },
  });
  router.route('/v1/templates/:id', {
    DELETE: async (c) => {
      const id = requireId(c.req.param('id') ?? '', 'id');
      const removed = await service(engine).delete(id);
      if (!removed) throw new MitosError('not_found', `template "${id}" not found`);
      return c.json({ status: 'ok' });
    },
  });
  router.route('/v1/templates/:id/push', {
    POST: async (c) => {
      const id = requireId(c.req.param('id') ?? '', 'id');
      const body = readJson(c, PushTemplateRequestSchema);
      return c.json(await service(engine).push(id, body.reference));
    },
  });
  router.route('/v1/templates/:id/build', {
    GET: (c) => {
      const id = requireId(c.req.param('id') ?? '', 'id');
      const build = buildsOf(engine).get(id);
      if (!build) {
        const template = engine.getTemplate(id);
        if (!template) throw new MitosError('not_found', `no build of template "${id}"`);
        // Built before this server started (or long ago): the build is over and it is ready.
        return ndjsonResponse({
          clientSignal: c.req.raw.signal,
          run: (out) => {
            out.send({ type: 'done', id, digest: '', duration_ms: template.creationTimeMs });
            out.end();
          },
          onClose: () => {},
        });
      }
      let unsubscribe = () => {};
      return ndjsonResponse({
        clientSignal: c.req.raw.signal,
        run: (out) => {
          unsubscribe = build.follow((event) => {
            if (event === null) out.end();
            else out.send(event);
          });
        },
        onClose: () => unsubscribe(),
      });
    },
  });
}

function byteCount(name: string, text: string | undefined): number {
  if (text === undefined || !/^\d{1,15}$/.test(text)) {
    throw new MitosError(
      'invalid_request',
      `query parameter ${name} must be a byte count, got ${JSON.stringify(text ?? null)}`,
      {},
      { remediation: 'send a blob in parts with both ?offset=<bytes held>&total=<blob size>' },
    );
  }
  return Number(text);
}
