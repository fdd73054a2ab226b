/**
 * A sandbox bound to a workspace: created as its single writer with the head hydrated into
 * /workspace, and committed before it is terminated through DELETE /v1/sandboxes/:id.
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
  if (!commit) {
    workspaces.release(sandboxId);
    return { name: bound.name, revision: null, skipped: [] };
  }
  const out = await workspaces.commit(bound.name, sandboxId);
  workspaces.release(sandboxId);
  return { name: bound.name, ...toCommitResponse(out.revision, out.skipped) };
}
