/**
 * The node daemon's control API, which only the controller calls (crd-v1.md 11.3 describes the
 * reference's gRPC equivalent). Every route but /healthz needs the shared node key as a bearer
 * token; the daemon refuses to start without one, so there is no open mode.
 * @module
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { MitosError, NetworkRequestSchema, TemplateSpecSchema } from '@mitos/protocol';
import { type ApiServer, createNodeControlApi, type Router, readJson } from '@mitos/server';
import type { Logger } from 'pino';
import { z } from 'zod';
import { isBuiltInImage } from '../util/built-ins.js';
import { isEngineConflict, type NodeSandboxes } from './node-sandboxes.js';
import { DIGEST_PATTERN, TEMPLATE_IMAGE_PATTERN } from './template-transfer.js';
import { CaptureBody, HydrateBody } from './workspace-io.js';

const Name = z.string().min(1).max(253);
const Token = z.string().regex(/^[0-9a-f]{64}$/, 'a token is 64 lowercase hex characters');

const PrepareBody = z.object({
  image: z.string().min(1),
  /** A template built from a spec (templates as code); absent: `image` names a built-in. */
  spec: TemplateSpecSchema.optional(),
  network: NetworkRequestSchema.optional(),
  /** Fetch it from the holder that exported it (its control endpoint and manifest digest). */
  fetch: z
    .object({
      endpoint: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/, 'host:port'),
      digest: z.string().regex(DIGEST_PATTERN, 'sha256:<64 hex>'),
    })
    .optional(),
});
const TemplateImage = z.string().regex(TEMPLATE_IMAGE_PATTERN, 'a template image key');
const WarmBody = z.object({
  namespace: Name,
  pool: Name,
  image: z.string().min(1),
  count: z.number().int().min(1).max(64),
});
const RemoveWarmBody = z.object({ namespace: Name, pool: Name, count: z.number().int().min(1).optional() });
const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');
const AbsolutePath = z
  .string()
  .regex(/^\/[^\0]*$/, 'an absolute path')
  .max(4096)
  .refine((p) => !p.split('/').includes('..'), 'no .. segments');
const Delivery = z.object({
  env: z.record(EnvName, z.string().max(128 * 1024)).optional(),
  files: z
    .array(z.object({ path: AbsolutePath, content: z.string().max(1024 * 1024) }))
    .max(64)
    .optional(),
});
const AcquireBody = z.object({
  namespace: Name,
  pool: Name,
  claim: Name,
  image: z.string().min(1),
  token: Token,
  delivery: Delivery.optional(),
});
const ForkBody = z.object({
  namespace: Name,
  fork: Name,
  source: z.string().min(1),
  children: z
    .array(z.object({ id: z.string().min(1), token: Token }))
    .min(1)
    .max(64),
  pauseSource: z.boolean().optional(),
});

export interface ControlApiOptions {
  sandboxes: NodeSandboxes;
  nodeName: string;
  nodeKey: string;
  logger?: Logger;
}

/**
 * The control API on the server's node surface: its auth (the node key as a bearer token) and
 * its error responder (the protocol's envelope and codes; a refusal's reason is the `cause`).
 */
export function createControlApi({ sandboxes, nodeName, nodeKey, logger }: ControlApiOptions): ApiServer {
  if (nodeKey.trim().length < 16) throw new Error('the node key must be at least 16 characters');
  return createNodeControlApi({
    nodeKey,
    ...(logger && { logger }),
    register: (router) => registerControlRoutes(router, sandboxes, nodeName),
  });
}

function registerControlRoutes(router: Router, sandboxes: NodeSandboxes, nodeName: string): void {
  router.route('/node/v1/capacity', { GET: (c) => c.json({ node: nodeName, ...sandboxes.capacity() }) });

  router.route('/node/v1/sandboxes', { GET: (c) => c.json({ sandboxes: sandboxes.records() }) });

  router.route('/node/v1/templates', {
    POST: (c) => {
      const { image, spec, network, fetch } = readJson(c, PrepareBody);
      if (fetch && !spec && !isBuiltInImage(image))
        throw new MitosError(
          'invalid_request',
          'a template fetched from another node needs its spec (or is a built-in)',
        );
      const recipe =
        spec || fetch ? { ...(spec && { spec }), ...(network && { network }), ...(fetch && { fetch }) } : undefined;
      return c.json({ image, state: sandboxes.prepareTemplate(image, recipe) });
    },
  });

  router.route('/node/v1/templates/:image', {
    GET: (c) => {
      const image = templateImage(c.req.param('image'));
      return c.json({ image, ...sandboxes.templateReport(image) });
    },
  });

  router.route('/node/v1/templates/:image/export', {
    POST: async (c) => {
      const image = templateImage(c.req.param('image'));
      if (!sandboxes.transfer) throw new MitosError('not_implemented', 'this node cannot export templates');
      return c.json({ image, ...sandboxes.transfer.export(image) });
    },
  });

  router.route('/node/v1/template-blobs/:digest', {
    GET: async (c) => {
      const digest = c.req.param('digest') ?? '';
      const path = await sandboxes.transfer?.blob(digest);
      if (!path) throw new MitosError('not_found', `no exported template blob ${digest} on this node`);
      const body = Readable.toWeb(createReadStream(path)) as ReadableStream;
      return c.body(body, 200, { 'content-type': 'application/octet-stream' });
    },
  });

  router.route('/node/v1/warm', {
    POST: async (c) => {
      const b = readJson(c, WarmBody);
      return c.json({ created: await engineOp(sandboxes.addWarm(b.namespace, b.pool, b.image, b.count)) });
    },
  });

  router.route('/node/v1/warm/remove', {
    POST: async (c) => {
      const b = readJson(c, RemoveWarmBody);
      return c.json({ removed: await engineOp(sandboxes.removeWarm(b.namespace, b.pool, b.count)) });
    },
  });

  router.route('/node/v1/claims', {
    POST: async (c) => c.json(await engineOp(sandboxes.acquire(readJson(c, AcquireBody)))),
  });

  router.route('/node/v1/forks', {
    POST: async (c) => c.json({ children: await engineOp(sandboxes.fork(readJson(c, ForkBody))) }),
  });

  router.route('/node/v1/sandboxes/:id/workspace/hydrate', {
    POST: async (c) => c.json(await sandboxes.workspaces.hydrate(c.req.param('id') ?? '', readJson(c, HydrateBody))),
  });

  router.route('/node/v1/sandboxes/:id/workspace/capture', {
    POST: async (c) => c.json(await sandboxes.workspaces.capture(c.req.param('id') ?? '', readJson(c, CaptureBody))),
  });

  router.route('/node/v1/sandboxes/:id', {
    DELETE: async (c) =>
      c.json({ terminated: await engineOp(sandboxes.terminate(c.req.param('id') ?? '', c.req.query('namespace'))) }),
  });
}

function templateImage(raw: string | undefined): string {
  const parsed = TemplateImage.safeParse(raw);
  if (!parsed.success) throw new MitosError('invalid_request', `not a template image key: ${JSON.stringify(raw)}`);
  return parsed.data;
}

/** The engine's conflict or not-running refusal of a node operation is, to the controller, a conflict. */
async function engineOp<T>(op: Promise<T>): Promise<T> {
  try {
    return await op;
  } catch (err) {
    if (isEngineConflict(err)) throw new MitosError('conflict', (err as MitosError).detail || (err as Error).message);
    throw err;
  }
}
