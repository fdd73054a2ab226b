/**
 * The node daemon's control API, which only the controller calls (crd-v1.md 11.3 describes the
 * reference's gRPC equivalent). Every route but /healthz needs the shared node key as a bearer
 * token; the daemon refuses to start without one, so there is no open mode.
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { MitosError, NetworkRequestSchema, TemplateSpecSchema } from '@mitos/protocol';
import { type Context, Hono } from 'hono';
import { z } from 'zod';
import { isEngineConflict, NodeOpError, type NodeSandboxes } from './node-sandboxes.js';
import { CaptureBody, HydrateBody } from './workspace-io.js';

const Name = z.string().min(1).max(253);
const Token = z.string().regex(/^[0-9a-f]{64}$/, 'a token is 64 lowercase hex characters');

const PrepareBody = z.object({
  image: z.string().min(1),
  /** A template built from a spec (templates as code); absent: `image` names a built-in. */
  spec: TemplateSpecSchema.optional(),
  network: NetworkRequestSchema.optional(),
});
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

const STATUS: Record<string, 400 | 401 | 404 | 409 | 429 | 500 | 503> = {
  invalid_request: 400,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  capacity_exhausted: 429,
  template_not_ready: 503,
};

export interface ControlApiOptions {
  sandboxes: NodeSandboxes;
  nodeName: string;
  nodeKey: string;
  onError?: (err: unknown) => void;
}

export function createControlApi({ sandboxes, nodeName, nodeKey, onError }: ControlApiOptions): Hono {
  if (nodeKey.trim().length < 16) throw new Error('the node key must be at least 16 characters');
  const keyDigest = sha256(nodeKey);
  const app = new Hono();

  app.onError((err, c) => {
    if (err instanceof NodeOpError) return fail(c, err.code, err.message);
    if (err instanceof z.ZodError)
      return fail(c, 'invalid_request', err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    if (isEngineConflict(err)) return fail(c, 'conflict', (err as Error).message);
    if (err instanceof MitosError && err.code === 'not_found') return fail(c, 'not_found', err.message);
    // A workspace capture or hydrate refused on its merits (too large, bad path, store error).
    if (err instanceof MitosError && err.code !== 'internal') return fail(c, err.code, err.message);
    onError?.(err);
    return fail(c, 'internal', (err as Error).message ?? 'internal error');
  });

  app.get('/healthz', (c) => c.text('ok'));

  app.use('/node/*', async (c, next) => {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(c.req.header('Authorization') ?? '');
    const presented = sha256(match?.[1] ?? '');
    if (!match || !timingSafeEqual(presented, keyDigest)) return fail(c, 'unauthorized', 'node key required');
    await next();
  });

  app.get('/node/v1/capacity', (c) => c.json({ node: nodeName, ...sandboxes.capacity() }));

  app.get('/node/v1/sandboxes', (c) =>
    c.json({
      sandboxes: sandboxes.records(),
    }),
  );

  app.post('/node/v1/templates', async (c) => {
    const { image, spec, network } = PrepareBody.parse(await c.req.json());
    const recipe = spec ? { spec, ...(network && { network }) } : undefined;
    return c.json({ image, state: sandboxes.prepareTemplate(image, recipe) });
  });

  app.post('/node/v1/warm', async (c) => {
    const b = WarmBody.parse(await c.req.json());
    return c.json({ created: await sandboxes.addWarm(b.namespace, b.pool, b.image, b.count) });
  });

  app.post('/node/v1/warm/remove', async (c) => {
    const b = RemoveWarmBody.parse(await c.req.json());
    return c.json({ removed: await sandboxes.removeWarm(b.namespace, b.pool, b.count) });
  });

  app.post('/node/v1/claims', async (c) => c.json(await sandboxes.acquire(AcquireBody.parse(await c.req.json()))));

  app.post('/node/v1/forks', async (c) =>
    c.json({ children: await sandboxes.fork(ForkBody.parse(await c.req.json())) }),
  );

  app.post('/node/v1/sandboxes/:id/workspace/hydrate', async (c) =>
    c.json(await sandboxes.workspaces.hydrate(c.req.param('id'), HydrateBody.parse(await c.req.json()))),
  );

  app.post('/node/v1/sandboxes/:id/workspace/capture', async (c) =>
    c.json(await sandboxes.workspaces.capture(c.req.param('id'), CaptureBody.parse(await c.req.json()))),
  );

  app.delete('/node/v1/sandboxes/:id', async (c) =>
    c.json({ terminated: await sandboxes.terminate(c.req.param('id'), c.req.query('namespace')) }),
  );

  app.notFound((c) => fail(c, 'not_found', `no route for ${c.req.method} ${c.req.path}`));
  return app;
}

function fail(c: Context, code: string, message: string): Response {
  return c.json({ error: { code, message } }, STATUS[code] ?? 500);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
