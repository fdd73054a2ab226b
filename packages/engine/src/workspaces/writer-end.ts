/**
 * A bound sandbox commits its /workspace however it ends: a terminate from any surface (our
 * API, E2B, Connect) or its deadline commits before the sandbox goes; a lost one (its VM or
 * process died) cannot be read, so its binding ends with that recorded. The sandbox ends either
 * way; the outcome is the workspace's `last_end`, so a user sees why work is missing.
 */
import { MitosError } from '@mitos/protocol';
import type { EndReason, Engine } from '../engine.js';
import type { WriterEnd } from './catalog.js';
import type { Workspaces } from './service.js';

const LOST: WriterEnd['error'] = {
  code: 'sandbox_lost',
  message: 'the sandbox was lost before its /workspace could be read; changes since the last commit are gone',
};

/**
 * Registers the commit-on-end hook with the engine; returns its unsubscribe. Call it before
 * the first request: writers whose sandbox the engine no longer has (reaped when a server came
 * back from a crash) end first, as lost.
 */
export function commitWritersOnEnd(engine: Engine, workspaces: Workspaces): () => void {
  for (const ws of workspaces.list()) {
    if (ws.writer === null || engine.get(ws.writer)) continue;
    workspaces.catalog.endWriter(ws.writer, {
      sandbox: ws.writer,
      reason: 'lost',
      revision: null,
      error: LOST,
      at: Date.now(),
    });
    workspaces.release(ws.writer);
  }
  return engine.onSandboxEnding(async (sandboxId, reason) => {
    await endWriter(workspaces, sandboxId, reason);
  });
}

/** Commits (unless lost) and ends the binding of `sandboxId`, recording the outcome. */
export async function endWriter(
  workspaces: Workspaces,
  sandboxId: string,
  reason: EndReason,
): Promise<WriterEnd | undefined> {
  const ws = workspaces.boundTo(sandboxId);
  if (!ws) return undefined;
  let revision: string | null = null;
  let error: WriterEnd['error'] = reason === 'lost' ? LOST : null;
  try {
    if (reason !== 'lost') revision = (await workspaces.commit(ws.name, sandboxId)).revision?.id ?? null;
  } catch (err) {
    error =
      err instanceof MitosError ? { code: err.code, message: err.message } : { code: 'internal', message: String(err) };
  }
  const end: WriterEnd = { sandbox: sandboxId, reason, revision, error, at: Date.now() };
  workspaces.catalog.endWriter(sandboxId, end);
  workspaces.release(sandboxId);
  return end;
}
