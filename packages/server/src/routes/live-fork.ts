/**
 * POST /v1/sandboxes/{id}/fork (docs/api-extensions.md): branch a running sandbox into
 * `count` copy-on-write children. Idempotent under Idempotency-Key like /v1/fork; the key is
 * bound to the whole outcome, and replays while every child it made is still live.
 *
 * The 0.3.x clients post `{id, template, pause_source}` here once per child and read the
 * child's record at the top level; that body forks one child and the answer is the child's
 * record with our report beside it. `pause_source` (default true) holds the parent still while
 * it is copied.
 */
import type { ForkOutcome, SandboxInfo } from '@mitos/engine';
import {
  type ForkProcessesMode,
  forkCarriedToWire,
  LiveForkRequestSchema,
  type LiveForkResponse,
  MitosError,
  type SandboxRecord,
} from '@mitos/protocol';
import type { Context } from 'hono';
import type { AppEnv, RouteDeps } from '../env.js';
import { engineFailure } from '../errors.js';
import { idempotencyKeyFrom, runIdempotent } from '../idempotency.js';
import { readJson } from '../json-body.js';
import { applyDefaultLifetime } from '../lifetime.js';
import { endpointFor, liveSandbox, sandboxIdOf } from '../lookup.js';
import { requestHeader } from '../node-headers.js';
import { MIN_FORK_TIME_MS, toSandboxRecord } from '../records.js';
import type { Router } from '../routing.js';
import { timeAsync } from '../server-timing.js';
import { requireId } from '../validate.js';

/** The answer to the clients' one-child body: the child's record, then the report. */
export type FlatLiveForkResponse = SandboxRecord & LiveForkResponse;

/** What the idempotency record keeps: enough to rebuild the response from live records. */
interface Binding {
  parent: string;
  children: string[];
  fork_time_ms: number;
  carried: LiveForkResponse['carried'];
  pause_source?: boolean;
}

export function registerLiveForkRoutes(router: Router, deps: RouteDeps): void {
  const { engine, idempotency, idClaims } = deps;
  const record = (c: Context<AppEnv>, sandbox: SandboxInfo) =>
    toSandboxRecord({
      sandbox,
      template: engine.getTemplate(sandbox.templateId),
      endpoint: endpointFor(c, deps.publicUrl),
    });

  router.route('/v1/sandboxes/:id/fork', {
    POST: async (c) => {
      const parentId = sandboxIdOf(c, c.req.param('id') ?? '', 'id');
      const body = readJson(c, LiveForkRequestSchema);
      const shape = forkShape(body);
      const { count, ids, pauseSource, processes } = shape;
      const key = idempotencyKeyFrom(requestHeader(c, 'Idempotency-Key'));
      const out = await runIdempotent(idempotency, key, 'live-fork', {
        lookup: (bound) => {
          const binding = JSON.parse(bound) as Binding;
          const parent = liveSandbox(engine, binding.parent);
          const children = binding.children.map((id) => liveSandbox(engine, id));
          if (parent === undefined || children.some((child) => child === undefined)) return undefined;
          return {
            parent: record(c, parent),
            children: children.map((child) => record(c, child as SandboxInfo)),
            fork_time_ms: binding.fork_time_ms,
            carried: { ...binding.carried, processes_not_carried: binding.carried.processes_not_carried ?? [] },
            pause_source: binding.pause_source ?? true,
          };
        },
        create: async () => {
          const release = idClaims.claim(ids ?? [], (id) => liveSandbox(engine, id) !== undefined);
          try {
            const started = performance.now();
            const fork = engine.fork(parentId, {
              count,
              ...(ids && { ids }),
              pauseSource,
              ...(processes && { processes }),
              // The engine's lookup is the only one; the clients' `template` is checked against it.
              onAccepted: (parent) => sameTemplate(body.template, parent.templateId),
            });
            const outcome = await timeAsync(c, 'engine', fork).catch((err: unknown) => {
              throw engineFailure(err, 'internal', { sandbox: parentId });
            });
            const measured = performance.now() - started;
            const childIds = outcome.children.map((child) => child.id);
            await applyDefaultLifetime(engine, childIds, deps.defaultLifetimeSeconds);
            const value: LiveForkResponse = {
              parent: record(c, outcome.parent),
              children: outcome.children.map((child) => record(c, child)),
              fork_time_ms: forkTime(outcome, measured),
              carried: forkCarriedToWire(outcome.carried),
              pause_source: pauseSource,
            };
            const binding: Binding = {
              parent: parentId,
              children: childIds,
              fork_time_ms: value.fork_time_ms,
              carried: value.carried,
              pause_source: pauseSource,
            };
            return { id: JSON.stringify(binding), value };
          } finally {
            release();
          }
        },
      });
      if (shape.flat) {
        const child = out.children[0] as SandboxRecord;
        c.set('sandboxId', child.id);
        const flat: FlatLiveForkResponse = { ...child, ...out };
        return c.json(flat);
      }
      return c.json(out);
    },
  });
}

interface ForkShape {
  count: number;
  ids?: string[];
  pauseSource: boolean;
  processes: ForkProcessesMode | undefined;
  /** The clients' one-child body: answer with the child's record at the top level. */
  flat: boolean;
}

/**
 * Ours: count defaults to the number of ids (else 1); when both are given they must agree.
 * The clients': one child named `id` (and `template`, checked by sameTemplate).
 */
function forkShape(body: {
  count?: number | undefined;
  ids?: string[] | undefined;
  id?: string | undefined;
  template?: string | undefined;
  pause_source?: boolean | undefined;
  processes?: ForkProcessesMode | undefined;
}): ForkShape {
  const pauseSource = body.pause_source ?? true;
  const processes = body.processes;
  if (body.id !== undefined || body.template !== undefined) {
    if (body.count !== undefined || body.ids !== undefined) {
      throw new MitosError('invalid_json', 'send either {count, ids} or {id, template, pause_source}, not both');
    }
    const id = body.id === undefined || body.id === '' ? undefined : requireId(body.id, 'id');
    return { count: 1, ...(id && { ids: [id] }), pauseSource, processes, flat: true };
  }
  if (body.ids === undefined) return { count: body.count ?? 1, pauseSource, processes, flat: false };
  const ids = body.ids.map((id, i) => requireId(id, `ids[${i}]`));
  if (new Set(ids).size !== ids.length) throw new MitosError('invalid_json', 'ids must be distinct');
  if (body.count !== undefined && body.count !== ids.length) {
    throw new MitosError('invalid_json', `count is ${body.count} but ${ids.length} ids were given`);
  }
  return { count: ids.length, ids, pauseSource, processes, flat: false };
}

/** The clients' `template`, when sent, must be the parent's: a live fork cannot change template. */
function sameTemplate(template: string | undefined, parentTemplate: string): void {
  if (template !== undefined && template !== '' && template !== parentTemplate) {
    throw new MitosError(
      'invalid_json',
      `template "${template}" is not the parent's ("${parentTemplate}"); a live fork keeps the parent's template`,
    );
  }
}

function forkTime(outcome: ForkOutcome, measuredMs: number): number {
  if (outcome.forkTimeMs > 0) return outcome.forkTimeMs;
  return Math.max(measuredMs, MIN_FORK_TIME_MS);
}
