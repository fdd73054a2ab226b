/**
 * POST /v1/set_timeout, /v1/pause, /v1/resume (wire-v1.md 4.15-4.17), backed by the engine,
 * unlike the seed's standalone server: unknown sandboxes are 404, the deadline is enforced
 * (the sandbox is terminated when it passes), and pause really freezes the sandbox.
 * set_timeout keeps the seed's check order: sign, then ceiling, then the sandbox. The engine
 * looks the sandbox up, once, with its rule: a deadline can be set on a running or paused
 * sandbox, pausing a paused one and resuming a running one are no-ops, any other state is 409.
 */
import { MitosError, SandboxRequestSchema, SetTimeoutRequestSchema } from '@mitos/protocol';
import type { SandboxRouteDeps } from '../env.js';
import { engineFailure } from '../errors.js';
import { readJson } from '../json-body.js';
import { deadlineAfter, unixSeconds } from '../lifetime.js';
import { sandboxIdOf } from '../lookup.js';
import type { Router } from '../routing.js';
import { effectiveTimeout } from './exec.js';

export function registerLifecycleRoutes(router: Router, { engine, maxExecTimeoutSeconds }: SandboxRouteDeps): void {
  const engineOp = async (op: Promise<void>, sandbox: string) => {
    try {
      await op;
    } catch (err) {
      throw engineFailure(err, 'internal', { sandbox });
    }
  };

  router.route('/v1/set_timeout', {
    POST: async (c) => {
      const body = readJson(c, SetTimeoutRequestSchema);
      const sandboxId = sandboxIdOf(c, body.sandbox);
      if (body.timeout_seconds <= 0) {
        throw new MitosError('invalid_json', `timeout_seconds must be positive (got ${body.timeout_seconds})`);
      }
      const seconds = effectiveTimeout(body.timeout_seconds, sandboxId, maxExecTimeoutSeconds);
      const deadline = deadlineAfter(Date.now(), seconds);
      await engineOp(engine.setDeadline(sandboxId, deadline), sandboxId);
      return c.json({ status: 'ok', deadline_unix: unixSeconds(deadline), timeout_seconds: seconds });
    },
  });

  router.route('/v1/pause', {
    POST: async (c) => {
      const { sandbox } = readJson(c, SandboxRequestSchema);
      await engineOp(engine.pause(sandboxIdOf(c, sandbox)), sandbox);
      return c.json({ status: 'paused' });
    },
  });

  router.route('/v1/resume', {
    POST: async (c) => {
      const { sandbox } = readJson(c, SandboxRequestSchema);
      await engineOp(engine.resume(sandboxIdOf(c, sandbox)), sandbox);
      return c.json({ status: 'running' });
    },
  });
}
