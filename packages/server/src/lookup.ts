/**
 * Finding the live resource a request names. A sandbox the engine reports as terminated is
 * treated as absent: the wire has no notion of a dead-but-listed sandbox.
 */
import type { Engine, SandboxInfo } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import type { Context } from 'hono';
import type { AppEnv } from './env.js';
import { timeSync } from './server-timing.js';
import { requireId } from './validate.js';

export function liveSandbox(engine: Engine, id: string): SandboxInfo | undefined {
  const sandbox = engine.get(id);
  return sandbox === undefined || sandbox.state === 'terminated' ? undefined : sandbox;
}

export function liveSandboxes(engine: Engine): SandboxInfo[] {
  return engine.list().filter((s) => s.state !== 'terminated');
}

/**
 * Validates the id and tags the request log with it, leaving the lookup to the engine call
 * that follows: the engine reads the row once and applies its one rule (not_found unless it
 * exists for callers, sandbox_not_running unless in a state the operation allows).
 */
export function sandboxIdOf(c: Context<AppEnv>, id: string, field = 'sandbox'): string {
  requireId(id, field);
  c.set('sandboxId', id);
  return id;
}

/**
 * Validates the id, tags the request log with it, and 404s unless the sandbox is live. For
 * routes that need the sandbox's record itself, or must refuse before a stream starts.
 */
export function requireSandbox(c: Context<AppEnv>, engine: Engine, id: string, field = 'sandbox'): SandboxInfo {
  sandboxIdOf(c, id, field);
  const sandbox = timeSync(c, 'lookup', () => liveSandbox(engine, id));
  if (sandbox === undefined) throw new MitosError('not_found', `sandbox "${id}" not found`);
  return sandbox;
}

/**
 * As requireSandbox, and 409 sandbox_not_running unless it is running. Streams check this
 * before their 200: once a stream has started, the engine's own refusal could only be
 * reported inside it.
 */
export function requireRunningSandbox(c: Context<AppEnv>, engine: Engine, id: string, field = 'sandbox'): SandboxInfo {
  const sandbox = requireSandbox(c, engine, id, field);
  if (sandbox.state !== 'running') {
    throw new MitosError('sandbox_not_running', `sandbox "${id}" is ${sandbox.state}`, {
      sandbox: id,
      state: sandbox.state,
    });
  }
  return sandbox;
}

/** Our base URL as clients reach it: the configured one, else the origin this request used. */
export function endpointFor(c: Context<AppEnv>, publicUrl: () => string | undefined): string {
  return publicUrl() ?? new URL(c.req.url).origin;
}
