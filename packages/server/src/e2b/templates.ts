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
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import { readBody } from './body.js';
import type { BuildLogEntry, E2bBuild, E2bBuilds } from './build-store.js';
import { type E2bContext, ENVD_VERSION } from './context.js';
import { asMitosError, describe } from './errors.js';
import type { E2bSnapshots } from './snapshots.js';
import { checkTag, copyTemplate, DEFAULT_TAG, type E2bTags, newTagEngineId, splitTemplateName } from './tags.js';
import { checkFilesHash, type E2bTemplateFiles } from './template-files.js';
import type { E2bTemplateOwners } from './template-owners.js';
import { E2bBuildStartSchema, mapE2bBuild, templateIdOf } from './template-steps.js';

export { E2bTemplateOwners } from './template-owners.js';

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
/** Names the built-in templates take (no build or snapshot may take them). */
export const TEMPLATE_NAMES = new Set([...Object.keys(TEMPLATE_ALIASES), ...Object.values(TEMPLATE_ALIASES)]);
const MIB = 1024 * 1024;
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

export function builderOf(
  engine: Engine,
): TemplateBuildService & { context: NonNullable<TemplateBuildService['context']> } {
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

/** The engine template an E2B name (`name` or `name:tag`) stands for, for `tenant`; not_found for anything else. */
export function resolveE2bTemplate(owners: E2bTemplateOwners, tags: E2bTags, tenant: string, full: string): string {
  const { name, tag } = splitTemplateName(full);
  const id = TEMPLATE_ALIASES[name] ?? name;
  const owner = owners.owner(id);
  // Another key's template is invisible unless its owner published it (then it only starts sandboxes).
  if (owner !== undefined && owner !== tenant && !owners.isPublic(id)) {
    throw new MitosError('not_found', `template "${full}" not found`);
  }
  if (tag === DEFAULT_TAG) return id;
  const tagged = owner === undefined ? undefined : tags.get(id, tag);
  if (tagged === undefined) throw new MitosError('not_found', `template "${full}" not found (no tag "${tag}")`);
  return tagged.engineId;
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
  tags: E2bTags,
  snapshots: E2bSnapshots,
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

  /** Name a template and open a build of it (v3: `Template.build`; v2: SDKs before 2.7). */
  const requestBuild = async (c: Context<Vars>) => {
    builderOf(engine);
    const body = RequestBuildSchema.parse(await readBody(c));
    const full = body.name ?? body.alias;
    if (full === undefined) throw new MitosError('invalid_request', 'name is required');
    const { name, tag } = splitTemplateName(full);
    // `name:tag` and `tags` name the tags this build gets; neither: the default one.
    const named = full.includes(':') ? [tag] : [];
    const wanted = [...named, ...(body.tags ?? []).map((t) => (t === 'latest' ? DEFAULT_TAG : checkTag(t)))];
    const buildTags = wanted.length === 0 ? [DEFAULT_TAG] : [...new Set(wanted)];
    if (body.minFreeDiskMb !== undefined) {
      throw new MitosError('not_implemented', 'minFreeDiskMb is not supported', {}, { remediation: 'leave it unset' });
    }
    const id = templateIdOf(name);
    const tenant = c.get('tenant');
    if (tags.isCopy(id) || snapshots.get(id) !== undefined) {
      throw new MitosError('conflict', `template name "${id}" is taken; choose another name`);
    }
    if (TEMPLATE_NAMES.has(id)) throw new MitosError('conflict', `template "${id}" is built in; choose another name`);
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
      tags: buildTags,
      resources: {
        ...(body.cpuCount !== undefined && { cpu: body.cpuCount }),
        ...(body.memoryMB !== undefined && { memory: `${body.memoryMB}Mi` }),
      },
    });
    return { id, build, tags: buildTags };
  };
  app.post('/v3/templates', async (c) => {
    const { id, build, tags: buildTags } = await requestBuild(c);
    return c.json(
      { templateID: id, buildID: build.id, names: [id], aliases: [id], tags: buildTags, public: false },
      202,
    );
  });
  app.post('/v2/templates', async (c) => {
    const { id, build } = await requestBuild(c);
    const resources = engine.getTemplate(id)?.limits;
    return c.json(
      {
        templateID: id,
        buildID: build.id,
        cpuCount: build.resources.cpu ?? resources?.cpus ?? 1,
        memoryMB: Number.parseInt(build.resources.memory ?? '0', 10) || Math.round((resources?.memoryBytes ?? 0) / MIB),
        diskSizeMB: Math.round((resources?.diskBytes ?? 0) / MIB),
        public: false,
        aliases: [id],
        createdAt: build.createdAt.toISOString(),
        updatedAt: build.createdAt.toISOString(),
        createdBy: null,
        lastSpawnedAt: owners.stats(id)?.lastSpawnedAt?.toISOString() ?? null,
        spawnCount: owners.stats(id)?.spawnCount ?? 0,
        buildCount: builds.ofTemplate(id).length,
        envdVersion: ENVD_VERSION,
      },
      202,
    );
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
    const body = E2bBuildStartSchema.parse(await readBody(c));
    if ((body.fromImage ? 1 : 0) + (body.fromTemplate ? 1 : 0) !== 1) {
      throw new MitosError('invalid_request', 'exactly one of fromImage or fromTemplate is required');
    }
    const base = body.fromTemplate
      ? resolveE2bTemplate(owners, tags, tenant, body.fromTemplate)
      : (body.fromImage as string);
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
    // The default tag is the template itself; a build for other tags only gets an engine
    // template of its own (the tag's, rebuilt in place when the tag exists).
    const [first = DEFAULT_TAG, ...others] = build.tags;
    const target =
      first === DEFAULT_TAG ? build.templateId : (tags.get(build.templateId, first)?.engineId ?? newTagEngineId());
    if (target !== build.templateId) owners.claim(target, tenant);
    const record = async () => {
      owners.setUser(target, mapped.user);
      tags.put({ template: build.templateId, tag: first, engineId: target, buildId: build.id });
      for (const tag of others) {
        const copy =
          tag === DEFAULT_TAG ? build.templateId : (tags.get(build.templateId, tag)?.engineId ?? newTagEngineId());
        owners.claim(copy, tenant);
        await copyTemplate(engine, builder, copy, target, mapped.spec.ready);
        owners.setUser(copy, mapped.user);
        tags.put({ template: build.templateId, tag, engineId: copy, buildId: build.id });
      }
    };
    // E2B build steps reach the internet (package installs); the template's sandboxes keep the
    // deny-both-ways posture and get the internet only when their create asks for it.
    builder
      .build({
        id: target,
        spec: mapped.spec,
        context: mapped.context,
        noCache: mapped.force,
        buildNetwork: { egress: 'allow', inbound: 'deny' },
        onEvent: (event) => {
          const line = logLine(event);
          if (line) builds.log(build.id, line);
        },
      })
      .then(record)
      .then(
        () => finish('ready'),
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
    const published = owners.isPublic(alias);
    if (owner !== c.get('tenant') && !published)
      throw new MitosError('forbidden', `template "${alias}" belongs to another team`);
    return c.json({ templateID: alias, public: published });
  });
}
