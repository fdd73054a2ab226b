/**
 * A sandbox bound to a workspace: created as its single writer with the head hydrated into
 * /workspace, and committed before it is terminated through DELETE /v1/sandboxes/:id (where a
 * failed commit keeps the sandbox). Every other end (E2B or Connect kill, deadline, crash) goes
 * through the engine's ending hook (engine workspaces/writer-end.ts).
 */
import type { CreateSandboxOptions, SandboxInfo } from '@mitos/engine';
import type { CommitResponse } from '@mitos/protocol';
import type { RouteDeps } from '../env.js';
import { requireWorkspaces, toCommitResponse } from './workspaces.js';

/** Claims the workspace first (a busy one makes no sandbox); a failed hydrate leaves nothing. */
export async function createBound(
  deps: RouteDeps,
  workspace: string,
  options: CreateSandboxOptions,
): Promise<SandboxInfo> {
  const workspaces = requireWorkspaces(deps);
  workspaces.claim(workspace, options.id);
  let sandbox: SandboxInfo | undefined;
  try {
    sandbox = await deps.engine.create(options);
    await workspaces.hydrate(workspace, sandbox.id);
    return sandbox;
  } catch (err) {
    if (sandbox) await deps.engine.terminate(sandbox.id).catch(() => {});
    workspaces.release(options.id);
    throw err;
  }
}

/**
 * Commits a bound sandbox's /workspace (unless `commit` is false) and ends the binding. A
 * failed commit throws and leaves the sandbox running, so nothing written is lost; the caller
 * may fix the tree, or terminate with `?commit=false` to discard it.
 */
export async function commitOnTerminate(
  deps: RouteDeps,
  sandboxId: string,
  commit: boolean,
): Promise<(CommitResponse & { name: string }) | undefined> {
  const workspaces = deps.workspaces;
  const bound = workspaces?.boundTo(sandboxId);
  if (!workspaces || !bound) return undefined;
  const out = commit ? await workspaces.commit(bound.name, sandboxId) : { revision: null, skipped: [] };
  const end = { sandbox: sandboxId, reason: 'terminated' as const, revision: out.revision?.id ?? null, error: null };
  workspaces.catalog.endWriter(sandboxId, { ...end, at: Date.now() });
  workspaces.release(sandboxId);
  return { name: bound.name, ...toCommitResponse(out.revision, out.skipped) };
}
