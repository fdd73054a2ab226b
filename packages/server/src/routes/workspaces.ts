/**
 * Workspaces (docs/api-extensions.md): /v1/workspaces... over the engine's Workspaces. A
 * sandbox binds to a workspace through `workspace` on POST /v1/fork (routes/sandboxes.ts).
 */
import type { RevisionRow, WorkspaceRow, Workspaces, WriterEnd } from '@mitos/engine';
import {
  CheckoutWorkspaceRequestSchema,
  type CommitResponse,
  CommitWorkspaceRequestSchema,
  CreateWorkspaceRequestSchema,
  ForkWorkspaceRequestSchema,
  MitosError,
  RevertWorkspaceRequestSchema,
  type RevisionRecord,
  SetRetentionRequestSchema,
  type WorkspaceRecord,
} from '@mitos/protocol';
import type { RouteDeps } from '../env.js';
import { readJson } from '../json-body.js';
import type { Router } from '../routing.js';
import { requireId } from '../validate.js';

export function registerWorkspaceRoutes(router: Router, deps: RouteDeps): void {
  const ws = (): Workspaces => requireWorkspaces(deps);

  router.route('/v1/workspaces', {
    GET: (c) =>
      c.json(
        ws()
          .list()
          .map((row) => toWorkspaceRecord(ws(), row)),
      ),
    POST: (c) => {
      const body = readJson(c, CreateWorkspaceRequestSchema);
      const row = ws().create(body.name, {
        revisions: body.retention?.revisions,
        minAgeSeconds: body.retention?.min_age_seconds,
      });
      return c.json(toWorkspaceRecord(ws(), row));
    },
  });

  router.route('/v1/workspaces/:name', {
    GET: (c) => c.json(toWorkspaceRecord(ws(), ws().get(c.req.param('name') ?? ''))),
    DELETE: async (c) => {
      const name = c.req.param('name') ?? '';
      await ws().remove(name);
      return c.json({ status: 'deleted', name });
    },
  });

  router.route('/v1/workspaces/:name/retention', {
    POST: async (c) => {
      const body = readJson(c, SetRetentionRequestSchema);
      const row = await ws().setRetention(c.req.param('name') ?? '', {
        revisions: body.retention.revisions,
        minAgeSeconds: body.retention.min_age_seconds,
      });
      return c.json(toWorkspaceRecord(ws(), row));
    },
  });

  router.route('/v1/workspaces/:name/log', {
    GET: (c) =>
      c.json(
        ws()
          .log(c.req.param('name') ?? '')
          .map(toRevisionRecord),
      ),
  });

  router.route('/v1/workspaces/:name/diff', {
    GET: async (c) => {
      const name = c.req.param('name') ?? '';
      return c.json(await ws().diff(name, c.req.query('revision') || undefined, c.req.query('against') || undefined));
    },
  });

  router.route('/v1/workspaces/:name/commit', {
    POST: async (c) => {
      const body = readJson(c, CommitWorkspaceRequestSchema);
      const sandbox = requireId(body.sandbox, 'sandbox');
      c.set('sandboxId', sandbox);
      const out = await ws().commit(c.req.param('name') ?? '', sandbox, body.message);
      return c.json(toCommitResponse(out.revision, out.skipped));
    },
  });

  router.route('/v1/workspaces/:name/fork', {
    POST: (c) => {
      const body = readJson(c, ForkWorkspaceRequestSchema);
      return c.json(toRevisionRecord(ws().fork(c.req.param('name') ?? '', body.workspace, body.revision)));
    },
  });

  router.route('/v1/workspaces/:name/revert', {
    POST: async (c) => {
      const body = readJson(c, RevertWorkspaceRequestSchema);
      return c.json(toRevisionRecord(await ws().revert(c.req.param('name') ?? '', body.revision)));
    },
  });

  router.route('/v1/workspaces/:name/checkout', {
    POST: async (c) => {
      const body = readJson(c, CheckoutWorkspaceRequestSchema);
      const sandbox = requireId(body.sandbox, 'sandbox');
      c.set('sandboxId', sandbox);
      return c.json(toRevisionRecord(await ws().checkout(c.req.param('name') ?? '', sandbox, body.revision)));
    },
  });
}

export function requireWorkspaces(deps: RouteDeps): Workspaces {
  if (deps.workspaces === undefined) {
    throw new MitosError(
      'not_implemented',
      'this server has no workspace store',
      {},
      {
        remediation: 'run `mitos serve` (it keeps workspaces under its state directory)',
      },
    );
  }
  return deps.workspaces;
}

export function toWorkspaceRecord(ws: Workspaces, row: WorkspaceRow): WorkspaceRecord {
  return {
    name: row.name,
    created_at: new Date(row.created_at).toISOString(),
    head: ws.catalog.head(row.name)?.id ?? null,
    revisions: ws.catalog.count(row.name),
    writer: row.writer,
    retention: { revisions: row.retention_revisions, min_age_seconds: row.retention_min_age_s },
    last_writer: lastWriter(row.last_end),
  };
}

function lastWriter(json: string | null): WorkspaceRecord['last_writer'] {
  if (json === null) return null;
  const end = JSON.parse(json) as WriterEnd;
  return { ...end, at: new Date(end.at).toISOString() };
}

export function toRevisionRecord(row: RevisionRow): RevisionRecord {
  return {
    id: row.id,
    workspace: row.workspace,
    digest: row.digest,
    parent: row.parent,
    source: row.source,
    sandbox: row.sandbox,
    message: row.message,
    created_at: new Date(row.created_at).toISOString(),
    files: row.files,
    bytes: row.bytes,
  };
}

export function toCommitResponse(revision: RevisionRow | null, skipped: string[]): CommitResponse {
  return { revision: revision && toRevisionRecord(revision), skipped };
}
