/**
 * GET /v1/events (docs/api-extensions.md, contract in @mitos/protocol events.ts): server-sent
 * events that keep a client's list of sandboxes current without polling the API. A snapshot
 * first, then changes as the engine's list moves, and usage every few seconds.
 *
 * Browsers' EventSource cannot send an Authorization header, so the console reads this with
 * fetch(); the route sits behind the same bearer auth as every other.
 */
import { EVENTS_USAGE_INTERVAL_SECONDS, MitosError, type ServerEventData, type ServerEventType } from '@mitos/protocol';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { AppEnv, RouteDeps } from '../env.js';
import { SandboxDiff, type SandboxView } from '../events/sandbox-diff.js';
import { endpointFor } from '../lookup.js';
import { toSandboxDetail } from '../records.js';
import type { Router } from '../routing.js';
import { measureLiveSandboxes, type UsageRow } from './metering.js';

/** How often the live list is compared; a change reaches clients at most this late. */
const CHANGE_POLL_MS = 250;
/** The soonest a change brings a usage message forward (measuring every sandbox is not free). */
const USAGE_AFTER_CHANGE_MS = 1000;

/** `shutdown` ends every open stream when the server closes, instead of holding its close open. */
export function registerEventRoutes(router: Router, deps: RouteDeps, shutdown: AbortSignal): void {
  const usage = sharedUsage(deps);
  router.route('/v1/events', {
    GET: (c) => {
      // A GET here never has a body; one that does is malformed, and is refused rather than
      // answered with a stream that never ends.
      if (c.req.header('Content-Length') !== undefined || c.req.header('Transfer-Encoding') !== undefined) {
        throw new MitosError('invalid_request', 'GET /v1/events takes no request body');
      }
      return streamSSE(c, async (stream) => {
        const detail = detailFor(c, deps);
        const send = <T extends ServerEventType>(event: T, data: ServerEventData<T>) =>
          stream.writeSSE({ event, data: JSON.stringify(data) });
        const diff = new SandboxDiff(deps.engine);
        await send('snapshot', { sandboxes: diff.snapshot().map(detail) });
        let lastUsage = 0;
        let changedAt: number | undefined;
        const unsubscribe = deps.engine.onSandboxGone(() => void tick());
        const endOnShutdown = () => void stream.close();
        shutdown.addEventListener('abort', endOnShutdown, { once: true });
        let ticking = false;
        const open = () => !stream.aborted && !stream.closed && !shutdown.aborted;
        const tick = async () => {
          if (ticking || !open()) return;
          ticking = true;
          try {
            const { upserted, gone } = diff.next();
            for (const view of upserted) await send('sandbox', { sandbox: detail(view) });
            for (const id of gone) await send('gone', { id });
            // Periodically, and soon after the list changes, so a new sandbox does not wait 5 s
            // for its figures; after a change, only a measurement started after it will do.
            if (upserted.length > 0 || gone.length > 0) changedAt ??= Date.now();
            const sinceUsage = Date.now() - lastUsage;
            const due = sinceUsage >= EVENTS_USAGE_INTERVAL_SECONDS * 1000;
            if (due || (changedAt !== undefined && sinceUsage >= USAGE_AFTER_CHANGE_MS)) {
              const since = changedAt ?? Date.now() - USAGE_AFTER_CHANGE_MS;
              changedAt = undefined;
              lastUsage = Date.now();
              await send('usage', { sandboxes: await usage(since) });
            }
          } finally {
            ticking = false;
          }
        };
        try {
          while (open()) {
            await tick();
            await stream.sleep(CHANGE_POLL_MS);
          }
        } finally {
          unsubscribe();
          shutdown.removeEventListener('abort', endOnShutdown);
        }
      });
    },
  });
}

/**
 * Usage of every live sandbox, shared by all open streams: `usage(since)` answers with a
 * measurement started at or after `since`, reusing one that is (or is being) taken, since
 * measuring reads every sandbox's memory maps and should not repeat per open console.
 */
export function sharedUsage(deps: Pick<RouteDeps, 'engine' | 'logger'>): (since: number) => Promise<UsageRow[]> {
  let last: { startedAt: number; rows: Promise<UsageRow[]> } | undefined;
  return (since) => {
    if (last === undefined || last.startedAt < since) {
      const startedAt = Date.now();
      last = { startedAt, rows: measureLiveSandboxes(deps) };
    }
    return last.rows;
  };
}

function detailFor(c: Context<AppEnv>, deps: RouteDeps) {
  const endpoint = endpointFor(c, deps.publicUrl);
  return ({ sandbox, deadline }: SandboxView) => {
    const record = toSandboxDetail(
      { sandbox, template: deps.engine.getTemplate(sandbox.templateId), endpoint },
      deadline,
    );
    return {
      ...record,
      state: sandbox.state,
      hostname: sandbox.hostname,
      parent_id: sandbox.parentId,
      generation: sandbox.generation,
    };
  };
}
