/**
 * Sandbox lifecycle: POST /v1/fork (create from a template), GET /v1/sandboxes,
 * DELETE /v1/sandboxes/:id (wire-v1.md 4.4-4.6), and the extension GET /v1/sandboxes/:id.
 *
 * Unlike the seed server, forking onto the id of a live sandbox is 409 conflict: silently
 * replacing it would orphan the running one.
 */
import type { ResourceLimits, SandboxInfo } from '@mitos/engine';
import {
  ForkRequestSchema,
  MitosError,
  type NetworkPosture,
  newSandboxId,
  type ResourceLimitsRequest,
} from '@mitos/protocol';
import type { Context } from 'hono';
import type { AppEnv, RouteDeps } from '../env.js';
import { idempotencyKeyFrom, runIdempotent } from '../idempotency.js';
import { readJson } from '../json-body.js';
import { applyDefaultLifetime } from '../lifetime.js';
import { endpointFor, liveSandbox, liveSandboxes, sandboxIdOf } from '../lookup.js';
import { optionalNetwork } from '../network.js';
import { requestHeader } from '../node-headers.js';
import { MIN_FORK_TIME_MS, toSandboxDetail, toSandboxRecord } from '../records.js';
import type { Router } from '../routing.js';
import { timeAsync, timeSync } from '../server-timing.js';
import { refuseUnsupported, requireId } from '../validate.js';
import { commitOnTerminate, createBound } from './workspace-binding.js';
import { requireWorkspaces } from './workspaces.js';

export function registerSandboxRoutes(router: Router, deps: RouteDeps): void {
  const { engine, idempotency, idClaims } = deps;
  const recordInput = (c: Context<AppEnv>, sandbox: SandboxInfo) => ({
    sandbox,
    template: engine.getTemplate(sandbox.templateId),
    network: postureOf(engine, sandbox.id),
    endpoint: endpointFor(c, deps.publicUrl),
  });
  const record = (c: Context<AppEnv>, sandbox: SandboxInfo) => toSandboxRecord(recordInput(c, sandbox));

  router.route('/v1/fork', {
    POST: async (c) => {
      const body = readJson(c, ForkRequestSchema);
      refuseUnsupported(body, {
        region: 'omit region: a mitos server places every sandbox on its own host',
      });
      const templateId = requireId(body.template, 'template');
      const requestedId = body.id === undefined || body.id === '' ? undefined : requireId(body.id, 'id');
      const limits = toResourceLimits(body.limits);
      const network = optionalNetwork(body.network);
      const env = body.env;
      const workspace = body.workspace === undefined ? undefined : requireWorkspaces(deps) && body.workspace;
      const key = idempotencyKeyFrom(requestHeader(c, 'Idempotency-Key'));
      const out = await runIdempotent(idempotency, key, 'fork', {
        lookup: (id) => {
          const sandbox = liveSandbox(engine, id);
          return sandbox && record(c, sandbox);
        },
        create: async () => {
          const id = requestedId ?? newSandboxId();
          c.set('sandboxId', id);
          if (engine.getTemplate(templateId) === undefined) {
            throw new MitosError('not_found', `template "${templateId}" not found`);
          }
          const release = idClaims.claim([id], (x) => liveSandbox(engine, x) !== undefined);
          try {
            const started = performance.now();
            const creating =
              workspace === undefined
                ? engine.create({ id, templateId, ...(limits && { limits }), ...(network && { network }), env })
                : createBound(deps, workspace, {
                    id,
                    templateId,
                    ...(limits && { limits }),
                    ...(network && { network }),
                    env,
                  });
            const sandbox = await timeAsync(c, 'engine', creating);
            const measured = performance.now() - started;
            await applyDefaultLifetime(engine, [id], deps.defaultLifetimeSeconds);
            const value = record(c, sandbox);
            if (!(sandbox.forkTimeMs > 0)) value.fork_time_ms = Math.max(measured, MIN_FORK_TIME_MS);
            return { id, value };
          } finally {
            release();
          }
        },
      });
      c.set('sandboxId', out.id);
      return c.json(out);
    },
  });

  router.route('/v1/sandboxes', {
    GET: (c) => c.json(liveSandboxes(engine).map((s) => record(c, s))),
  });

  router.route('/v1/sandboxes/:id', {
    GET: (c) => {
      const id = sandboxIdOf(c, c.req.param('id') ?? '', 'id');
      // One read: the record, its posture and its deadline together.
      const sandbox = timeSync(c, 'lookup', () => engine.describe(id));
      if (sandbox === undefined || sandbox.state === 'terminated') notFound(id);
      const { network, deadline } = sandbox;
      const template = engine.getTemplate(sandbox.templateId);
      const detail = toSandboxDetail(
        { sandbox, template, network, endpoint: endpointFor(c, deps.publicUrl) },
        deadline,
      );
      return c.json({ ...detail, limits: toWireLimits(sandbox.limits), env: sandbox.env ?? {} });
    },
    DELETE: async (c) => {
      const id = sandboxIdOf(c, c.req.param('id') ?? '', 'id');
      const commit = c.req.query('commit') !== 'false';
      let committed: Awaited<ReturnType<typeof commitOnTerminate>>;
      // The end's own lookup decides 404; a bound workspace is committed after it, before the end.
      const beforeEnd = async () => {
        committed = await commitOnTerminate(deps, id, commit);
      };
      const bound = deps.workspaces?.boundTo(id) !== undefined;
      if (c.req.query('wait') !== 'false') {
        if (!(await engine.terminate(id, 'terminated', bound ? { beforeEnd } : undefined))) notFound(id);
        return c.json({ status: 'terminated', id, ...(committed && { workspace: committed }) });
      }
      // ?wait=false: answer once no call can reach the sandbox and its teardown has begun (a
      // bound workspace is committed before that); the host is cleaned up after the answer.
      let begun = false;
      let onTeardown: () => void = () => {};
      const teardownBegun = new Promise<true>((resolve) => {
        onTeardown = () => {
          begun = true;
          resolve(true);
        };
      });
      const ending = engine.terminate(id, 'terminated', { ...(bound && { beforeEnd }), onTeardown });
      // A failure before the teardown is this request's error; one after it has nobody to answer.
      ending.catch((err: unknown) => {
        if (begun) deps.logger.error({ sandbox: id, err }, 'sandbox teardown failed after the answer');
      });
      if (!(await Promise.race([ending, teardownBegun]))) notFound(id);
      return c.json({ status: 'terminating', id, ...(committed && { workspace: committed }) }, 202);
    },
  });
}

function notFound(id: string): never {
  throw new MitosError('not_found', `sandbox "${id}" not found`);
}

/** The wire's mitos extension `limits` to engine units; limits the engine cannot apply are refused. */
function toResourceLimits(limits: ResourceLimitsRequest | undefined): Partial<ResourceLimits> | undefined {
  if (limits === undefined) return undefined;
  const out: Partial<ResourceLimits> = {};
  if (limits.disk_mb !== undefined) out.diskBytes = limits.disk_mb * 1024 * 1024;
  if (limits.memory_mb !== undefined) out.memoryBytes = limits.memory_mb * 1024 * 1024;
  if (limits.pids !== undefined) out.pids = limits.pids;
  if (limits.cpus !== undefined) out.cpus = limits.cpus;
  return out;
}

/** The effective posture, or undefined for a sandbox that ended meanwhile (the record says its template's). */
export function postureOf(engine: RouteDeps['engine'], id: string): NetworkPosture | undefined {
  try {
    return engine.getNetwork(id);
  } catch {
    return undefined;
  }
}

/** The limits a sandbox runs under, in the units `limits` on POST /v1/fork takes (0 disk: no cap). */
function toWireLimits(limits: ResourceLimits): Record<string, number> {
  const mb = (bytes: number) => Math.round(bytes / (1024 * 1024));
  const out: Record<string, number> = { memory_mb: mb(limits.memoryBytes), pids: limits.pids, cpus: limits.cpus };
  if (limits.diskBytes) out.disk_mb = mb(limits.diskBytes);
  return out;
}
