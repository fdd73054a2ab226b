/**
 * E2B's control plane (spec/openapi.yml) under /e2b: sandboxes are created, listed, timed,
 * paused, resumed, connected, forked and killed for the tenant the `X-API-KEY` names.
 */
import type { Engine, SandboxInfo } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import { type Context, Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../env.js';
import { requestHeader } from '../node-headers.js';
import { type Accounts, lookupAccount, USER } from './accounts.js';
import { readBody } from './body.js';
import type { E2bBuilds } from './build-store.js';
import { startDefaultKernel } from './code-interpreter.js';
import { type E2bContext, ownedRow, ownedSandbox, ownedSandboxDetail, timeoutSeconds } from './context.js';
import { checkEnforceable, NewSandboxSchema } from './create-options.js';
import { e2bErrorResponse } from './errors.js';
import { newE2bSandboxId } from './ids.js';
import { listSandboxes } from './listing.js';
import { e2bPosture } from './network.js';
import { domainFor, sandboxDetail, sandboxMetric, sandboxRecord } from './shapes.js';
import { type E2bSnapshots, snapshotRoutes } from './snapshots.js';
import { type E2bTags, splitTemplateName } from './tags.js';
import { templateAdminRoutes } from './template-admin.js';
import type { E2bTemplateFiles } from './template-files.js';
import {
  CODE_INTERPRETER_TEMPLATES,
  type E2bTemplateOwners,
  resolveE2bTemplate,
  TEMPLATE_NAMES,
  templateRoutes,
  templateUploadRoutes,
} from './templates.js';

type Vars = { Variables: { tenant: string } };

const UpdateNetworkSchema = z
  .object({
    allow_internet_access: z.boolean().nullish(),
    allowOut: z.array(z.string()).optional(),
    denyOut: z.array(z.string()).optional(),
  })
  .passthrough();
/**
 * Lifetime when a request names none: the SDKs' own default (300 s), which
 * 2.27 still sends and 2.51 leaves to the server (the spec's 15 s would kill a sandbox
 * mid-script for a user who never set a timeout).
 */
const DEFAULT_TIMEOUT_S = 300;
const BUILT_IN = new Set(['base', 'python', 'node', 'code-interpreter', 'e2b-base', 'e2b-node']);
/** Images that carry E2B's `user` account already (no exec at create). */
const IMAGES_WITH_USER = new Set(['code-interpreter', 'e2b-base', 'e2b-node']);

async function resolveTemplate(engine: Engine, templates: E2bTemplates, tenant: string, name: string): Promise<string> {
  const id = resolveE2bTemplate(templates.owners, templates.tags, tenant, name);
  if (engine.getTemplate(id)?.ready) return id;
  if (BUILT_IN.has(id)) return (await engine.ensureTemplate({ id })).id;
  throw new MitosError(
    'not_found',
    `template "${name}" not found`,
    {},
    {
      remediation: 'use base, code-interpreter-v1, or a template created on this server',
    },
  );
}

/** Whether `id` names a template (a built-in, a template of this server, one a key built). */
function isTemplateName(engine: Engine, templates: E2bTemplates, id: string): boolean {
  const owner = templates.owners.owner(id);
  if (owner !== undefined) return true;
  return BUILT_IN.has(id) || TEMPLATE_NAMES.has(id) || engine.getTemplate(id) !== undefined;
}

/** The template stores the control plane's template routes use. */
export interface E2bTemplates {
  owners: E2bTemplateOwners;
  files: E2bTemplateFiles;
  builds: E2bBuilds;
  tags: E2bTags;
  snapshots: E2bSnapshots;
}

export function controlPlane(
  ctx: E2bContext,
  accounts: Accounts,
  templates: E2bTemplates,
  configuredDomain: string | undefined,
): Hono<Vars> {
  const { engine, store } = ctx;
  const app = new Hono<Vars>().basePath('/e2b');
  app.onError((err) => e2bErrorResponse(err, ctx.logger, ctx.secrets));
  app.notFound((c) =>
    e2bErrorResponse(
      new MitosError(
        'not_implemented',
        `${c.req.method} ${c.req.path} is not served by mitos`,
        {},
        {
          remediation: 'see docs/e2b.md for the E2B endpoints mitos serves',
        },
      ),
      ctx.logger,
      ctx.secrets,
    ),
  );
  app.get('/health', (c) => c.body(null, 200));
  templateUploadRoutes(app, ctx, templates.files);
  app.use('*', async (c, next) => {
    const who = ctx.credentials.tenantOf(requestHeader(c as unknown as Context<AppEnv>, 'x-api-key'));
    if ('refused' in who) throw new MitosError('unauthorized', who.refused);
    c.set('tenant', who.tenant);
    await next();
  });
  const domain = (host: string | undefined) => domainFor(host, configuredDomain);

  const setLifetime = (id: string, seconds: number) => engine.setDeadline(id, new Date(Date.now() + seconds * 1000));

  const create = async (c: Context<Vars>) => {
    const body = NewSandboxSchema.parse(await readBody(c));
    const enforce = checkEnforceable(body);
    const timeout = timeoutSeconds(ctx, body.timeout, 'timeout', DEFAULT_TIMEOUT_S);
    const tenant = c.get('tenant');
    // A snapshot's sandboxes are forks of its hidden copy; a template's are made from its image.
    const snapshot = templates.snapshots.find(tenant, body.templateID);
    const templateId = snapshot?.sandboxId ?? (await resolveTemplate(engine, templates, tenant, body.templateID));
    const id = newE2bSandboxId();
    const network = e2bPosture({
      internet: body.allow_internet_access,
      allowOut: body.network?.allowOut,
      denyOut: body.network?.denyOut,
    });
    if (snapshot) await engine.fork(snapshot.sandboxId, { count: 1, ids: [id], ...(network && { network }) });
    else await engine.create({ id, templateId, ...(network && { network }) });
    templates.owners.spawned(splitTemplateName(body.templateID).name);
    const built = snapshot ? undefined : templates.owners.built(templateId);
    const row = {
      id,
      owner: tenant,
      template: body.templateID,
      metadata: body.metadata ?? {},
      envVars: body.envVars ?? {},
      startedAt: new Date(),
      publicTraffic: enforce.publicTraffic,
      internet: enforce.internet,
      egress: { allowOut: body.network?.allowOut ?? [], denyOut: body.network?.denyOut ?? [] },
    };
    try {
      // A template whose last setUser named another account acts as it by default.
      const account =
        snapshot?.account ??
        (built?.user && built.user !== USER.name ? await lookupAccount(engine, id, built.user) : undefined);
      await setLifetime(id, timeout);
      store.put({ ...row, ...(account && { account }) });
    } catch (err) {
      store.delete(id);
      await engine.terminate(id).catch(() => {});
      throw err;
    }
    // Templates built through E2B made the account in their first step; a snapshot's source had it.
    if (!snapshot && built === undefined && !IMAGES_WITH_USER.has(engine.getTemplate(templateId)?.image ?? ''))
      accounts.prepare(id);
    if (CODE_INTERPRETER_TEMPLATES.has(body.templateID)) startDefaultKernel(engine, id);
    ctx.events.add(id, 'sandbox created', { template: body.templateID });
    return c.json(sandboxRecord(ctx, row, domain(c.req.header('host'))), 201);
  };
  app.post('/sandboxes', create);
  // Newer SDKs (2.51 checked; 2.27 still uses v1) create through v2 (same body and reply).
  app.post('/v2/sandboxes', create);

  app.get('/sandboxes', (c) => listSandboxes(c, ctx, 'v1'));
  app.get('/v2/sandboxes', (c) => listSandboxes(c, ctx, 'v2'));

  app.get('/sandboxes/:id', (c) => {
    const { row, info } = ownedSandboxDetail(ctx, c.get('tenant'), c.req.param('id'));
    return c.json(sandboxDetail(ctx, row, info, domain(c.req.header('host'))));
  });

  app.delete('/sandboxes/:id', async (c) => {
    const row = ownedRow(ctx, c.get('tenant'), c.req.param('id'));
    // The end's own lookup decides whether it was live.
    if (!(await engine.terminate(row.id))) throw new MitosError('not_found', `sandbox "${row.id}" not found`);
    return c.body(null, 204);
  });

  // The lifecycle routes below read the engine's row once: in the engine call, which decides
  // on it (a paused sandbox keeps no deadline; refresh and connect only extend one).
  app.post('/sandboxes/:id/timeout', async (c) => {
    const row = ownedRow(ctx, c.get('tenant'), c.req.param('id'));
    const body = (await readBody(c)) as { timeout?: unknown };
    const seconds = timeoutSeconds(ctx, body.timeout, 'timeout', Number.NaN);
    if (Number.isNaN(seconds)) throw new MitosError('invalid_request', 'timeout is required');
    const wanted = new Date(Date.now() + seconds * 1000);
    await engine.setDeadline(row.id, (sandbox) => (sandbox.state === 'running' ? wanted : undefined));
    return c.body(null, 204);
  });

  app.post('/sandboxes/:id/refreshes', async (c) => {
    const row = ownedRow(ctx, c.get('tenant'), c.req.param('id'));
    const body = (await readBody(c)) as { duration?: unknown };
    const seconds = timeoutSeconds(ctx, body.duration, 'duration', 60);
    if (seconds > 3600) throw new MitosError('invalid_request', 'duration is at most 3600 seconds');
    const wanted = new Date(Date.now() + seconds * 1000);
    await engine.setDeadline(row.id, (sandbox, current) =>
      sandbox.state === 'running' ? later(current, wanted) : undefined,
    );
    return c.body(null, 204);
  });

  app.post('/sandboxes/:id/pause', async (c) => {
    const row = ownedRow(ctx, c.get('tenant'), c.req.param('id'));
    const body = (await readBody(c)) as { memory?: unknown };
    if (body.memory === false) {
      throw new MitosError(
        'not_implemented',
        'filesystem-only pause is not supported',
        {},
        { remediation: 'pause with memory kept (the default)' },
      );
    }
    // Paused sandboxes wait for resume or kill, as E2B's do; resume sets a fresh deadline.
    const pause = () => engine.pause(row.id, { onAccepted: refuseIn('paused'), deadline: null });
    const paused = await inState(ctx.lifecycle.run(row.id, pause));
    if (paused !== undefined) return c.json({ code: 409, message: `sandbox ${row.id} is already paused` }, 409);
    ctx.events.add(row.id, 'sandbox paused');
    return c.body(null, 204);
  });

  app.post('/sandboxes/:id/resume', async (c) => {
    const row = ownedRow(ctx, c.get('tenant'), c.req.param('id'));
    const body = (await readBody(c)) as { timeout?: unknown; autoPause?: unknown };
    if (body.autoPause === true) throw new MitosError('not_implemented', 'auto-pause is not supported');
    const seconds = timeoutSeconds(ctx, body.timeout, 'timeout', DEFAULT_TIMEOUT_S);
    const deadline = () => new Date(Date.now() + seconds * 1000);
    const resume = () => engine.resume(row.id, { onAccepted: refuseIn('running'), deadline });
    const running = await inState(ctx.lifecycle.run(row.id, resume));
    if (running !== undefined) return c.json({ code: 409, message: `sandbox ${row.id} is already running` }, 409);
    ctx.events.add(row.id, 'sandbox resumed');
    return c.json(sandboxRecord(ctx, row, domain(c.req.header('host'))), 201);
  });

  const connect = async (c: Context<Vars>) => {
    const row = ownedRow(ctx, c.get('tenant'), c.req.param('id') ?? '');
    const body = (await readBody(c)) as { timeout?: unknown; memory?: unknown };
    if (body.memory === false)
      throw new MitosError(
        'not_implemented',
        'resume by reboot is not supported',
        {},
        { remediation: 'resume with memory (the default)' },
      );
    let resumed = false;
    // Resumes a paused sandbox (a running one stays as it is) and only ever extends the lifetime.
    const resume = () =>
      engine.resume(row.id, {
        deadline: (sandbox, current) => {
          resumed = sandbox.state === 'paused';
          // v2 may omit the timeout: a running sandbox keeps its deadline, a resumed one gets E2B's default.
          const fallback = resumed || current === null ? DEFAULT_TIMEOUT_S : 0;
          const seconds = timeoutSeconds(ctx, body.timeout, 'timeout', fallback);
          return seconds > 0 ? later(current, new Date(Date.now() + seconds * 1000)) : undefined;
        },
      });
    await ctx.lifecycle.run(row.id, resume);
    if (resumed) ctx.events.add(row.id, 'sandbox resumed');
    return c.json(sandboxRecord(ctx, row, domain(c.req.header('host'))), resumed ? 201 : 200);
  };
  app.post('/sandboxes/:id/connect', connect);
  app.post('/v2/sandboxes/:id/connect', connect);

  app.post('/sandboxes/:id/fork', async (c) => {
    const { row } = ownedSandbox(ctx, c.get('tenant'), c.req.param('id'));
    const body = (await readBody(c)) as { timeout?: unknown; count?: unknown };
    const count = body.count ?? 1;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 64) {
      throw new MitosError('invalid_request', 'count must be a whole number from 1 to 64');
    }
    const seconds = timeoutSeconds(ctx, body.timeout, 'timeout', DEFAULT_TIMEOUT_S);
    const ids = Array.from({ length: count }, newE2bSandboxId);
    // Children copy the parent's files: its user account must be in them.
    await accounts.ready(row.id);
    const outcome = await engine.fork(row.id, { count, ids });
    const host = domain(c.req.header('host'));
    const results = await Promise.all(
      outcome.children.map(async (child) => {
        const childRow = { ...row, id: child.id, startedAt: new Date() };
        try {
          await setLifetime(child.id, seconds);
          store.put(childRow);
          ctx.events.add(child.id, 'sandbox forked', { parent: row.id });
          return { sandbox: sandboxRecord(ctx, childRow, host) };
        } catch (err) {
          await engine.terminate(child.id).catch(() => {});
          return { error: { code: 500, message: err instanceof Error ? err.message : String(err) } };
        }
      }),
    );
    return c.json(results, 201);
  });

  app.get('/sandboxes/:id/metrics', async (c) => {
    const row = ownedRow(ctx, c.get('tenant'), c.req.param('id'));
    return c.json([await sandboxMetric(ctx, row)]);
  });

  const logs = (id: string) => ctx.events.list(id);
  app.get('/sandboxes/:id/logs', (c) => {
    const { row } = ownedSandbox(ctx, c.get('tenant'), c.req.param('id'));
    const events = logs(row.id);
    return c.json({
      logs: events.map((e) => ({
        timestamp: e.timestamp.toISOString(),
        line: `${e.message} ${JSON.stringify(e.fields)}`,
      })),
      logEntries: events.map((e) => ({
        timestamp: e.timestamp.toISOString(),
        level: e.level,
        message: e.message,
        fields: e.fields,
      })),
    });
  });
  app.get('/v2/sandboxes/:id/logs', (c) => {
    const { row } = ownedSandbox(ctx, c.get('tenant'), c.req.param('id'));
    return c.json({
      logs: logs(row.id).map((e) => ({
        timestamp: e.timestamp.toISOString(),
        level: e.level,
        message: e.message,
        fields: e.fields,
      })),
    });
  });

  app.put('/sandboxes/:id/network', async (c) => {
    const { row, info } = ownedSandbox(ctx, c.get('tenant'), c.req.param('id'));
    const body = UpdateNetworkSchema.parse(await readBody(c));
    const network = e2bPosture({
      internet: body.allow_internet_access,
      allowOut: body.allowOut,
      denyOut: body.denyOut,
    });
    // An update naming no rule resets to the sandbox's template posture, as E2B clears its rules.
    const fallback = engine.getTemplate(info.templateId)?.network ?? {
      egress: 'deny' as const,
      inbound: 'deny' as const,
    };
    await engine.setNetwork(info.id, network ?? fallback);
    ctx.store.put({
      ...row,
      internet: body.allow_internet_access ?? null,
      egress: { allowOut: body.allowOut ?? [], denyOut: body.denyOut ?? [] },
    });
    return c.body(null, 204);
  });

  templateRoutes(app, ctx, templates.owners, templates.files, templates.builds, templates.tags, templates.snapshots);
  templateAdminRoutes(app, ctx, templates, readBody);
  snapshotRoutes(app, ctx, accounts, templates.snapshots, (id) => isTemplateName(engine, templates, id), readBody);
  return app;
}

/** `wanted` when it is later than `current` (null: none yet), else undefined: keep `current`. */
function later(current: Date | null, wanted: Date): Date | undefined {
  return current === null || current < wanted ? wanted : undefined;
}

/** Thrown from a lifecycle call's acceptance when the sandbox is already where the call would take it. */
class AlreadyIn extends Error {}

function refuseIn(state: SandboxInfo['state']): (sandbox: SandboxInfo) => void {
  return (sandbox) => {
    if (sandbox.state === state) throw new AlreadyIn(state);
  };
}

/** The state the sandbox was already in (E2B answers that with a 409 of its own), else undefined. */
async function inState(call: Promise<void>): Promise<string | undefined> {
  try {
    await call;
    return undefined;
  } catch (err) {
    if (err instanceof AlreadyIn) return err.message;
    throw err;
  }
}
