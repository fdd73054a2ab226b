/**
 * Workspaces (mitos extension, docs/api-extensions.md): a named, versioned `/workspace` tree.
 * Each revision is an immutable snapshot named by the sha256 of its manifest, with a parent
 * edge; a sandbox created with `workspace` hydrates the head and commits on terminate.
 */
import { z } from 'zod';
import type { ApiRoute } from './openapi.js';

/** Workspace names are Kubernetes object names (they become Workspace objects in a cluster). */
export const WORKSPACE_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A revision id: `<workspace>-<n>`, n counting up from 1 within the workspace. */
export const REVISION_ID_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?-[1-9][0-9]{0,9}$/;

export const WorkspaceRetentionSchema = z
  .object({
    /** Keep at most this many revisions (0 = unlimited). */
    revisions: z.number().int().min(0).max(1_000_000).optional(),
    /** Never prune a revision younger than this. */
    min_age_seconds: z.number().int().min(0).optional(),
  })
  .strict();
export type WorkspaceRetention = z.infer<typeof WorkspaceRetentionSchema>;

export const CreateWorkspaceRequestSchema = z
  .object({ name: z.string(), retention: WorkspaceRetentionSchema.optional() })
  .loose();

export const SetRetentionRequestSchema = z.object({ retention: WorkspaceRetentionSchema }).loose();

export const CommitWorkspaceRequestSchema = z
  .object({ sandbox: z.string(), message: z.string().max(1000).optional() })
  .loose();

export const ForkWorkspaceRequestSchema = z.object({ revision: z.string().optional(), workspace: z.string() }).loose();

export const RevertWorkspaceRequestSchema = z.object({ revision: z.string() }).loose();

export const CheckoutWorkspaceRequestSchema = z
  .object({ sandbox: z.string(), revision: z.string().optional() })
  .loose();

export const WorkspaceRecordSchema = z.object({
  name: z.string(),
  created_at: z.string(),
  /** The newest revision id, or null before the first commit. */
  head: z.string().nullable(),
  revisions: z.number().int(),
  /** The sandbox bound as this workspace's single writer, or null. */
  writer: z.string().nullable(),
  retention: z.object({ revisions: z.number().int(), min_age_seconds: z.number().int() }),
  /**
   * How the last writer's binding ended, null before any did. A writer is committed when it
   * ends by terminate (any surface) or its deadline; a `lost` one (its VM or process died)
   * cannot be read, so its changes since the last commit are gone and `error` says so.
   */
  last_writer: z
    .object({
      sandbox: z.string(),
      reason: z.enum(['terminated', 'deadline', 'lost']),
      /** The revision committed as it ended; null when nothing changed or nothing could be committed. */
      revision: z.string().nullable(),
      error: z.object({ code: z.string(), message: z.string() }).nullable(),
      at: z.string(),
    })
    .nullable(),
});
export type WorkspaceRecord = z.infer<typeof WorkspaceRecordSchema>;

export const RevisionRecordSchema = z.object({
  id: z.string(),
  workspace: z.string(),
  /** sha256 (hex) of the revision's canonical manifest: equal trees have equal digests. */
  digest: z.string(),
  /** The parent revision id (possibly of another workspace after a fork), or null for a root. */
  parent: z.string().nullable(),
  /** How it was made: `commit` (from a sandbox), `fork`, `revert`. */
  source: z.enum(['commit', 'fork', 'revert']),
  /** The sandbox a commit came from. */
  sandbox: z.string().nullable(),
  message: z.string().nullable(),
  created_at: z.string(),
  files: z.number().int(),
  bytes: z.number().int(),
});
export type RevisionRecord = z.infer<typeof RevisionRecordSchema>;

export const WorkspaceDiffSchema = z.object({
  revision: z.string(),
  /** What the revision is compared against (null: the empty tree). */
  against: z.string().nullable(),
  added: z.array(z.string()),
  removed: z.array(z.string()),
  modified: z.array(z.string()),
});
export type WorkspaceDiff = z.infer<typeof WorkspaceDiffSchema>;

/** What a commit reports: the new revision, or null when nothing changed since its base. */
export const CommitResponseSchema = z.object({
  revision: RevisionRecordSchema.nullable(),
  /** Entries not captured: symlinks, devices, sockets, FIFOs (paths relative to /workspace). */
  skipped: z.array(z.string()),
});
export type CommitResponse = z.infer<typeof CommitResponseSchema>;

export const WorkspaceLogSchema = z.array(RevisionRecordSchema);

/** The workspace routes, listed in API_ROUTES (openapi.ts). */
export const WORKSPACE_ROUTES: readonly ApiRoute[] = [
  {
    method: 'POST',
    path: '/v1/workspaces',
    summary: 'Create a workspace',
    request: CreateWorkspaceRequestSchema,
    response: WorkspaceRecordSchema,
  },
  { method: 'GET', path: '/v1/workspaces', summary: 'List workspaces', response: z.array(WorkspaceRecordSchema) },
  { method: 'GET', path: '/v1/workspaces/:name', summary: 'One workspace', response: WorkspaceRecordSchema },
  { method: 'DELETE', path: '/v1/workspaces/:name', summary: 'Delete a workspace and its revisions' },
  {
    method: 'POST',
    path: '/v1/workspaces/:name/retention',
    summary: 'Set retention (and prune now)',
    request: SetRetentionRequestSchema,
    response: WorkspaceRecordSchema,
  },
  { method: 'GET', path: '/v1/workspaces/:name/log', summary: 'Revisions, newest first', response: WorkspaceLogSchema },
  {
    method: 'GET',
    path: '/v1/workspaces/:name/diff',
    summary: 'Added/removed/modified paths of a revision (query: revision, against)',
    response: WorkspaceDiffSchema,
  },
  {
    method: 'POST',
    path: '/v1/workspaces/:name/commit',
    summary: "Commit the writer sandbox's /workspace as a new revision",
    request: CommitWorkspaceRequestSchema,
    response: CommitResponseSchema,
  },
  {
    method: 'POST',
    path: '/v1/workspaces/:name/fork',
    summary: 'Start a new workspace from a revision',
    request: ForkWorkspaceRequestSchema,
    response: RevisionRecordSchema,
  },
  {
    method: 'POST',
    path: '/v1/workspaces/:name/revert',
    summary: 'A new head whose parent and tree are an earlier revision',
    request: RevertWorkspaceRequestSchema,
    response: RevisionRecordSchema,
  },
  {
    method: 'POST',
    path: '/v1/workspaces/:name/checkout',
    summary: "Replace a running sandbox's /workspace with a revision",
    request: CheckoutWorkspaceRequestSchema,
    response: RevisionRecordSchema,
  },
];
