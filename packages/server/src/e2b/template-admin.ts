/**
 * The rest of E2B's template API around the builds: listing (v1 and the paginated v2), one
 * template with its builds, the `public` flag, a build's logs, delete (a template with its tags,
 * or a snapshot: `Sandbox.deleteSnapshot` deletes through here), and the tags (`Template.assignTags`,
 * `removeTags`, `getTags`). The v1 build paths of the CLI's Dockerfile flow push a Docker image to
 * E2B's registry, which mitos does not run: they are refused with the way that works.
 */
import type { TemplateInfo } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { E2bBuild, E2bBuilds } from './build-store.js';
import { type E2bContext, ENVD_VERSION } from './context.js';
import { offsetPage } from './paging.js';
import { deleteSnapshot, type E2bSnapshots } from './snapshots.js';
import { checkTag, copyTemplate, DEFAULT_TAG, type E2bTags, newTagEngineId, splitTemplateName } from './tags.js';
import type { E2bTemplateOwners } from './template-owners.js';
import { builderOf, resolveE2bTemplate } from './templates.js';

type Vars = { Variables: { tenant: string } };
const MIB = 1024 * 1024;
const PAGE_MAX = 100;

export interface TemplateAdminDeps {
  owners: E2bTemplateOwners;
  builds: E2bBuilds;
  tags: E2bTags;
  snapshots: E2bSnapshots;
}

const AssignTagsSchema = z.object({ target: z.string().min(1), tags: z.array(z.string()).min(1) }).passthrough();
const RemoveTagsSchema = z.object({ name: z.string().min(1), tags: z.array(z.string()).min(1) }).passthrough();
const UpdateSchema = z.object({ public: z.boolean().optional() }).passthrough();

function iso(d: Date | null | undefined): string | null {
  return d ? d.toISOString() : null;
}

export function templateAdminRoutes(
  app: Hono<Vars>,
  ctx: E2bContext,
  deps: TemplateAdminDeps,
  readBody: (c: Context) => Promise<unknown>,
): void {
  const { engine } = ctx;
  const { owners, builds, tags, snapshots } = deps;

  /** A template the tenant built (not a tag's copy); not_found otherwise, whoever owns it. */
  const own = (tenant: string, name: string): string => {
    if (owners.owner(name) !== tenant || tags.isCopy(name)) {
      throw new MitosError('not_found', `template "${name}" not found`);
    }
    return name;
  };

  /** The engine template a tenant's template runs now: its default tag's, else its newest tag's. */
  const current = (id: string): TemplateInfo | undefined =>
    engine.getTemplate(id) ??
    tags
      .of(id)
      .reverse()
      .map((t) => engine.getTemplate(t.engineId))
      .find((t) => t !== undefined);

  const record = (id: string) => {
    const info = current(id);
    const all = builds.ofTemplate(id);
    const ready = all.find((b) => b.status === 'ready');
    const stats = owners.stats(id);
    const createdAt = all.at(-1)?.createdAt ?? info?.createdAt;
    return {
      templateID: id,
      buildID: tags.get(id, DEFAULT_TAG)?.buildId ?? ready?.id ?? all[0]?.id ?? '',
      cpuCount: info?.limits.cpus ?? all[0]?.resources.cpu ?? 1,
      memoryMB: Math.round((info?.limits.memoryBytes ?? 0) / MIB),
      diskSizeMB: Math.round((info?.limits.diskBytes ?? 0) / MIB),
      public: owners.isPublic(id),
      aliases: [id],
      names: [id],
      createdAt: iso(createdAt),
      updatedAt: iso(info?.createdAt ?? createdAt),
      createdBy: null,
      lastSpawnedAt: iso(stats?.lastSpawnedAt),
      spawnCount: stats?.spawnCount ?? 0,
      buildCount: all.length,
      envdVersion: ENVD_VERSION,
      buildStatus: all[0]?.status ?? (info ? 'ready' : 'error'),
    };
  };

  const list = (c: Context<Vars>) =>
    owners
      .byOwner(c.get('tenant'))
      .filter((t) => !tags.isCopy(t.id) && (current(t.id) !== undefined || builds.ofTemplate(t.id).length > 0))
      .map((t) => record(t.id));

  app.get('/templates', (c) => c.json(list(c)));
  app.get('/v2/templates', (c) => {
    return c.json(offsetPage(c, list(c)));
  });

  const buildRecord = (b: E2bBuild, info: TemplateInfo | undefined) => ({
    buildID: b.id,
    status: b.status,
    createdAt: b.createdAt.toISOString(),
    updatedAt: b.createdAt.toISOString(),
    cpuCount: b.resources.cpu ?? info?.limits.cpus ?? 1,
    memoryMB: Number.parseInt(b.resources.memory ?? '', 10) || Math.round((info?.limits.memoryBytes ?? 0) / MIB),
    envdVersion: ENVD_VERSION,
  });

  app.get('/templates/:templateID', (c) => {
    const id = own(c.get('tenant'), c.req.param('templateID'));
    // E2B's TemplateWithBuilds: the listing's fields about the template, and its builds.
    const { buildID, cpuCount, memoryMB, diskSizeMB, createdBy, buildCount, envdVersion, buildStatus, ...template } =
      record(id);
    const info = current(id);
    return c.json({ ...template, builds: offsetPage(c, builds.ofTemplate(id)).map((b) => buildRecord(b, info)) });
  });

  // E2B's publish: other keys may then start sandboxes from it (and see it by alias), nothing
  // else; its builds, tags, logs and deletion stay its owner's.
  const update = async (c: Context<Vars>) => {
    const id = own(c.get('tenant'), c.req.param('templateID') ?? '');
    const body = UpdateSchema.parse(await readBody(c));
    if (body.public !== undefined) owners.setPublic(id, body.public);
    return c.json({ names: [id] });
  };
  app.patch('/templates/:templateID', update);
  app.patch('/v2/templates/:templateID', update);

  app.get('/templates/:templateID/builds/:buildID/logs', (c) => {
    const id = own(c.get('tenant'), c.req.param('templateID'));
    const build = builds.get(c.req.param('buildID'));
    if (build === undefined || build.templateId !== id) {
      throw new MitosError('not_found', `build "${c.req.param('buildID')}" of template "${id}" not found`);
    }
    const level = c.req.query('level');
    const order = ['debug', 'info', 'warn', 'error'];
    const min = level === undefined ? 0 : Math.max(0, order.indexOf(level));
    const limit = Math.min(PAGE_MAX, Math.max(0, Number(c.req.query('limit') ?? PAGE_MAX) || PAGE_MAX));
    const cursor = Number(c.req.query('cursor') ?? 0) || 0;
    let logs = builds
      .logs(build.id, 0)
      .filter((l) => order.indexOf(l.level) >= min && Date.parse(l.timestamp) >= cursor);
    if (c.req.query('direction') === 'backward') logs = logs.reverse();
    return c.json({ logs: logs.slice(0, limit) });
  });

  app.post('/templates/tags', async (c) => {
    const tenant = c.get('tenant');
    const body = AssignTagsSchema.parse(await readBody(c));
    const { name, tag: fromTag } = splitTemplateName(body.target);
    own(tenant, name);
    const source = resolveE2bTemplate(owners, tags, tenant, body.target);
    if (engine.getTemplate(source) === undefined) {
      throw new MitosError('not_found', `template "${body.target}" has no finished build`);
    }
    const buildId =
      tags.get(name, fromTag)?.buildId ?? builds.ofTemplate(name).find((b) => b.status === 'ready')?.id ?? '';
    const builder = builderOf(engine);
    const assigned = [...new Set(body.tags.map((t) => (t === 'latest' ? DEFAULT_TAG : checkTag(t))))];
    const user = owners.built(source)?.user ?? null;
    for (const tag of assigned) {
      const target = tag === DEFAULT_TAG ? name : (tags.get(name, tag)?.engineId ?? newTagEngineId());
      if (target !== source) {
        owners.claim(target, tenant);
        await copyTemplate(engine, builder, target, source, undefined);
      }
      if (user !== null) owners.setUser(target, user);
      tags.put({ template: name, tag, engineId: target, buildId });
    }
    return c.json({ tags: assigned, buildID: buildId }, 201);
  });

  app.delete('/templates/tags', async (c) => {
    const tenant = c.get('tenant');
    const body = RemoveTagsSchema.parse(await readBody(c));
    const id = own(tenant, splitTemplateName(body.name).name);
    const removed = body.tags.map((t) => (t === 'latest' ? DEFAULT_TAG : checkTag(t)));
    const missing = removed.filter((t) => tags.get(id, t) === undefined);
    if (missing.length > 0) throw new MitosError('not_found', `template "${id}" has no tag ${missing.join(', ')}`);
    const builder = builderOf(engine);
    for (const tag of removed) {
      const row = tags.get(id, tag);
      if (row === undefined) continue;
      tags.drop(id, tag);
      // The default tag's engine template is the template's name: it goes, the name stays the key's.
      await builder.delete(row.engineId);
      if (row.engineId !== id) owners.release(row.engineId);
    }
    return c.body(null, 204);
  });

  app.get('/templates/:templateID/tags', (c) => {
    const id = own(c.get('tenant'), c.req.param('templateID'));
    return c.json(tags.of(id).map((t) => ({ tag: t.tag, buildID: t.buildId, createdAt: t.createdAt.toISOString() })));
  });

  // After the tag routes: `/templates/tags` is not a template id.
  app.delete('/templates/:templateID', async (c) => {
    const tenant = c.get('tenant');
    const full = c.req.param('templateID');
    const snapshot = snapshots.find(tenant, full);
    if (snapshot !== undefined) {
      await deleteSnapshot(engine, snapshots, snapshot);
      return c.body(null, 204);
    }
    const { name, tag } = splitTemplateName(full);
    if (tag !== DEFAULT_TAG) {
      throw new MitosError('invalid_request', 'a tag is removed with Template.removeTags, not by delete');
    }
    const id = own(tenant, name);
    const builder = builderOf(engine);
    for (const t of tags.of(id)) {
      if (t.engineId !== id) {
        await builder.delete(t.engineId);
        owners.release(t.engineId);
      }
      tags.drop(id, t.tag);
    }
    await builder.delete(id);
    owners.release(id);
    return c.body(null, 204);
  });

  const dockerFlow = () => {
    throw new MitosError(
      'not_implemented',
      "E2B's v1 template build (a Docker image pushed to E2B's registry) is not served",
      {},
      {
        remediation:
          'build with Template.build (e2b >= 2.3; Template.fromDockerfile reads a Dockerfile) or `mitos template build -f Dockerfile`; see docs/e2b.md',
      },
    );
  };
  app.post('/templates', dockerFlow);
  app.post('/templates/:templateID', dockerFlow);
  app.post('/templates/:templateID/builds/:buildID', dockerFlow);
}
