/**
 * E2B's template build endpoints (what `Template.build` calls) on the engine's template builder:
 * `POST /v3/templates` names the template and opens a build, `GET /templates/{id}/files/{hash}`
 * hands out an upload link for a COPY step's files (a signed `PUT` on this server),
 * `POST /v2/templates/{id}/builds/{build}` starts it and `GET .../status` reports its state and
 * log lines. Templates built here belong to the key that built them: another tenant can neither
 * rebuild, use nor delete them.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { Engine, TemplateBuildService } from '@mitos/engine';
import { MitosError, type TemplateBuildEvent } from '@mitos/protocol';
import type { Database } from 'better-sqlite3';
import type { Hono } from 'hono';
import { z } from 'zod';
import type { BuildLogEntry, E2bBuild, E2bBuilds } from './build-store.js';
import type { E2bContext } from './context.js';
import { readBody } from './control.js';
import { asMitosError, describe } from './errors.js';
import { checkFilesHash, type E2bTemplateFiles } from './template-files.js';
import { E2bBuildStartSchema, mapE2bBuild, templateIdOf } from './template-steps.js';

type Vars = { Variables: { tenant: string } };

/** E2B template names served by our built-in templates (not buildable, usable by everyone). */
export const TEMPLATE_ALIASES: Record<string, string> = {
  // Each carries E2B's `user` account in its image (layers on our base, python and node images),
  // so no create runs an exec to make it. `python` shares the code interpreter's image (python
  // plus Debian's node): no second python-sized layer to build and cache, and one warm pool.
  base: 'e2b-base',
  python: 'code-interpreter',
  node: 'e2b-node',
  'code-interpreter-v1': 'code-interpreter',
  'code-interpreter': 'code-interpreter',
};
/** The names whose sandboxes run the code interpreter (its python kernel starts at create). */
export const CODE_INTERPRETER_TEMPLATES = new Set(['code-interpreter-v1', 'code-interpreter']);
const RESERVED = new Set([...Object.keys(TEMPLATE_ALIASES), ...Object.values(TEMPLATE_ALIASES)]);
const UPLOAD_PURPOSE = 'template-upload';
/** How long an upload link stays valid. */
const UPLOAD_TTL_MS = 60 * 60 * 1000;
const RequestBuildSchema = z
  .object({
    name: z.string().optional(),
    alias: z.string().optional(),
    tags: z.array(z.string()).optional(),
    cpuCount: z.number().int().min(1).optional(),
    memoryMB: z.number().int().min(128).optional(),
    minFreeDiskMb: z.number().int().optional(),
  })
  .passthrough();

/** Which tenant built each E2B template (the state database, so a restart keeps it). */
export class E2bTemplateOwners {
  readonly #get;
  readonly #put;
  readonly #delete;

  readonly #user;
  readonly #setUser;

  constructor(db: Database) {
    db.exec('CREATE TABLE IF NOT EXISTS e2b_templates (id TEXT PRIMARY KEY, owner TEXT NOT NULL, user TEXT)');
    // Databases made before the column existed get it (their templates' default user is `user`).
    const columns = db.prepare('PRAGMA table_info(e2b_templates)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'user')) db.exec('ALTER TABLE e2b_templates ADD COLUMN user TEXT');
    this.#get = db.prepare('SELECT owner FROM e2b_templates WHERE id = ?');
    this.#put = db.prepare('INSERT OR IGNORE INTO e2b_templates (id, owner) VALUES (?, ?)');
    this.#delete = db.prepare('DELETE FROM e2b_templates WHERE id = ?');
    this.#user = db.prepare('SELECT owner, user FROM e2b_templates WHERE id = ?');
    this.#setUser = db.prepare('UPDATE e2b_templates SET user = ? WHERE id = ?');
  }

  owner(id: string): string | undefined {
    return (this.#get.get(id) as { owner: string } | undefined)?.owner;
  }

  /** Owner and default user (its last build's last setUser; null: `user`) of an E2B-built template. */
  built(id: string): { owner: string; user: string | null } | undefined {
    return this.#user.get(id) as { owner: string; user: string | null } | undefined;
  }

  setUser(id: string, user: string): void {
    this.#setUser.run(user, id);
  }

  claim(id: string, owner: string): void {
    this.#put.run(id, owner);
  }

  release(id: string): void {
    this.#delete.run(id);
  }
}

function builderOf(engine: Engine): TemplateBuildService & { context: NonNullable<TemplateBuildService['context']> } {
  const builds = engine.templateBuilds;
  if (!builds?.context) {
    throw new MitosError(
      'not_implemented',
      `the ${engine.name} engine cannot build templates`,
      {},
      { remediation: 'run the server with the Linux engine on btrfs storage' },
    );
  }
  return builds as TemplateBuildService & { context: NonNullable<TemplateBuildService['context']> };
}

/** The engine template an E2B name stands for, for `tenant`; not_found for anything else. */
export function resolveE2bTemplate(owners: E2bTemplateOwners, tenant: string, name: string): string {
  const id = TEMPLATE_ALIASES[name] ?? name;
  const owner = owners.owner(id);
  if (owner !== undefined && owner !== tenant) {
    throw new MitosError('not_found', `template "${name}" not found`);
  }
  return id;
}

function logLine(event: TemplateBuildEvent): BuildLogEntry | undefined {
  const at = new Date().toISOString();
  switch (event.type) {
    case 'base':
      return {
        timestamp: at,
        level: 'info',
        message: `base ${event.image}${event.cached ? ' (cached)' : ''}`,
        step: 'base',
      };
    case 'step':
      return {
        timestamp: at,
        level: 'info',
        message: `[${event.step}/${event.total}] ${event.kind} ${event.label}${event.cached ? ' (cached)' : ''}`,
        step: String(event.step),
      };
    case 'log':
      return {
        timestamp: at,
        level: event.stream === 'stderr' ? 'warn' : 'info',
        message: event.line,
        step: String(event.step),
      };
    case 'done':
      return {
        timestamp: at,
        level: 'info',
        message: `built in ${Math.round(event.duration_ms)} ms`,
        step: 'finalize',
      };
    default:
      return undefined;
  }
}

/** Routes that carry their own credentials (the signed upload link); mounted before key auth. */
export function templateUploadRoutes(app: Hono<Vars>, ctx: E2bContext, files: E2bTemplateFiles): void {
  app.put('/templates/:templateID/files/:hash', async (c) => {
    const hash = checkFilesHash(c.req.param('hash'));
    const tenant = c.req.query('tenant') ?? '';
    const expires = Number(c.req.query('expires'));
    const subject = `${tenant}\0${c.req.param('templateID')}\0${hash}\0${expires}`;
    if (!ctx.credentials.verify(UPLOAD_PURPOSE, subject, c.req.query('signature')) || !(expires > Date.now())) {
      throw new MitosError('unauthorized', 'the upload link is invalid or expired');
    }
    const body = c.req.raw.body;
    if (body === null) throw new MitosError('invalid_request', 'the upload has no body');
    await files.receive(
      tenant,
      hash,
      Readable.fromWeb(body as NodeReadableStream<Uint8Array>),
      builderOf(ctx.engine).context,
    );
    return c.body(null, 200);
  });
}

export function templateRoutes(
  app: Hono<Vars>,
  ctx: E2bContext,
  owners: E2bTemplateOwners,
  files: E2bTemplateFiles,
  builds: E2bBuilds,
): void {
  const { engine } = ctx;

  const ownTemplate = (tenant: string, id: string) => {
    if (owners.owner(id) !== tenant) throw new MitosError('not_found', `template "${id}" not found`);
  };
  const buildOf = (tenant: string, templateId: string, buildId: string): E2bBuild => {
    const b = builds.get(buildId);
    if (b === undefined || b.owner !== tenant || b.templateId !== templateId) {
      throw new MitosError('not_found', `build "${buildId}" of template "${templateId}" not found`);
    }
    return b;
  };

  app.post('/v3/templates', async (c) => {
    builderOf(engine);
    const body = RequestBuildSchema.parse(await readBody(c.req.raw));
    const name = body.name ?? body.alias;
    if (name === undefined) throw new MitosError('invalid_request', 'name is required');
    if ((body.tags ?? []).some((t) => t !== 'default' && t !== 'latest')) {
      throw new MitosError(
        'not_implemented',
        'template tags are not supported',
        {},
        { remediation: 'build without tags' },
      );
    }
    if (body.minFreeDiskMb !== undefined) {
      throw new MitosError('not_implemented', 'minFreeDiskMb is not supported', {}, { remediation: 'leave it unset' });
    }
    const id = templateIdOf(name);
    const tenant = c.get('tenant');
    if (RESERVED.has(id)) throw new MitosError('conflict', `template "${id}" is built in; choose another name`);
    const owner = owners.owner(id);
    if (owner === undefined && engine.getTemplate(id) !== undefined) {
      throw new MitosError('conflict', `template "${id}" exists on this server; choose another name`);
    }
    if (owner !== undefined && owner !== tenant) {
      throw new MitosError('conflict', `template name "${id}" is taken; choose another name`);
    }
    const active = builds.active(id);
    if (active !== undefined) {
      throw new MitosError('conflict', `template "${id}" is being built already (build ${active.id})`);
    }
    owners.claim(id, tenant);
    const build = builds.create({
      id: randomUUID(),
      templateId: id,
      owner: tenant,
      resources: {
        ...(body.cpuCount !== undefined && { cpu: body.cpuCount }),
        ...(body.memoryMB !== undefined && { memory: `${body.memoryMB}Mi` }),
      },
    });
    return c.json({ templateID: id, buildID: build.id, names: [id], aliases: [id], tags: [], public: false }, 202);
  });

  app.get('/templates/:templateID/files/:hash', (c) => {
    const tenant = c.get('tenant');
    const id = c.req.param('templateID');
    ownTemplate(tenant, id);
    const hash = checkFilesHash(c.req.param('hash'));
    if (files.files(tenant, hash) !== undefined) return c.json({ present: true });
    const expires = Date.now() + UPLOAD_TTL_MS;
    const signature = ctx.credentials.sign(UPLOAD_PURPOSE, `${tenant}\0${id}\0${hash}\0${expires}`);
    const url = new URL(`/e2b/templates/${encodeURIComponent(id)}/files/${hash}`, c.req.url);
    url.search = new URLSearchParams({ tenant, expires: String(expires), signature }).toString();
    return c.json({ present: false, url: url.toString() });
  });

  app.post('/v2/templates/:templateID/builds/:buildID', async (c) => {
    const tenant = c.get('tenant');
    const build = buildOf(tenant, c.req.param('templateID'), c.req.param('buildID'));
    if (build.status !== 'waiting') throw new MitosError('conflict', `build ${build.id} was started already`);
    const body = E2bBuildStartSchema.parse(await readBody(c.req.raw));
    if ((body.fromImage ? 1 : 0) + (body.fromTemplate ? 1 : 0) !== 1) {
      throw new MitosError('invalid_request', 'exactly one of fromImage or fromTemplate is required');
    }
    const base = body.fromTemplate ? resolveE2bTemplate(owners, tenant, body.fromTemplate) : (body.fromImage as string);
    const mapped = mapE2bBuild(body, base, (hash) => files.files(tenant, hash));
    if (Object.keys(build.resources).length > 0) mapped.spec.resources = build.resources;
    const builder = builderOf(engine);
    builds.start(build.id);
    const finish = (status: 'ready' | 'error', err?: unknown) => {
      if (err === undefined) return builds.finish(build.id, status);
      const e = asMitosError(err);
      const step = (e.context as { step?: unknown }).step;
      builds.finish(build.id, status, {
        message: describe(e),
        ...(typeof step === 'number' && { step: String(step) }),
      });
    };
    // E2B build steps reach the internet (package installs); the template's sandboxes keep the
    // deny-both-ways posture and get the internet only when their create asks for it.
    builder
      .build({
        id: build.templateId,
        spec: mapped.spec,
        context: mapped.context,
        noCache: mapped.force,
        buildNetwork: { egress: 'allow', inbound: 'deny' },
        onEvent: (event) => {
          const line = logLine(event);
          if (line) builds.log(build.id, line);
        },
      })
      .then(
        () => {
          owners.setUser(build.templateId, mapped.user);
          finish('ready');
        },
        (err: unknown) => finish('error', err),
      );
    // The SDK's client reads a body unless it is declared empty.
    return c.body(null, 202, { 'Content-Length': '0' });
  });

  app.get('/templates/:templateID/builds/:buildID/status', (c) => {
    const build = buildOf(c.get('tenant'), c.req.param('templateID'), c.req.param('buildID'));
    const offset = Math.max(0, Number(c.req.query('logsOffset') ?? 0) || 0);
    return c.json({
      templateID: build.templateId,
      buildID: build.id,
      status: build.status,
      logEntries: builds.logs(build.id, offset),
      logs: [],
      ...(build.reason && { reason: { ...build.reason, logEntries: [] } }),
    });
  });

  app.get('/templates/aliases/:alias', (c) => {
    const alias = c.req.param('alias');
    if (TEMPLATE_ALIASES[alias] !== undefined) return c.json({ templateID: alias, public: true });
    const owner = owners.owner(alias);
    if (owner === undefined) throw new MitosError('not_found', `template "${alias}" not found`);
    if (owner !== c.get('tenant')) throw new MitosError('forbidden', `template "${alias}" belongs to another team`);
    return c.json({ templateID: alias, public: false });
  });

  app.delete('/templates/:templateID', async (c) => {
    const id = c.req.param('templateID');
    ownTemplate(c.get('tenant'), id);
    await builderOf(engine).delete(id);
    owners.release(id);
    return c.body(null, 204);
  });
}
