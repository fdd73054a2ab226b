/**
 * POST /v1/exec/stream (wire-v1.md 4.8): a command's output as NDJSON while it runs.
 * Everything that can fail before the 200 (body, timeout ceiling, sandbox, paused, stream cap)
 * is an ordinary envelope; after it, only the terminal line can carry a failure. A client that
 * disconnects aborts the command (the engine kills its process group): the seed SDK's
 * background `kill()` is exactly a dropped connection.
 */
import { ExecRequestSchema } from '@mitos/protocol';
import type { RouteDeps } from '../env.js';
import { readJson } from '../json-body.js';
import { requireRunningSandbox } from '../lookup.js';
import type { Router } from '../routing.js';
import { chunkLine, exitLine, failureLine } from '../streaming/exec-lines.js';
import { leasedNdjsonResponse } from '../streaming/ndjson.js';
import { requireId } from '../validate.js';
import { commandOf, effectiveTimeout, stdinOf } from './exec.js';

export function registerExecStreamRoutes(router: Router, { engine, maxExecTimeoutSeconds, streams }: RouteDeps): void {
  router.route('/v1/exec/stream', {
    POST: (c) => {
      const body = readJson(c, ExecRequestSchema);
      const sandboxId = requireId(body.sandbox, 'sandbox');
      const timeoutS = effectiveTimeout(body.timeout, sandboxId, maxExecTimeoutSeconds);
      requireRunningSandbox(c, engine, sandboxId);
      return leasedNdjsonResponse(streams, sandboxId, c.req.raw.signal, async (out, lease) => {
        const signal = AbortSignal.any([out.signal, lease.signal]);
        try {
          const result = await engine.exec(sandboxId, {
            ...commandOf(body),
            ...stdinOf(body),
            timeoutMs: timeoutS * 1000,
            signal,
            onStdout: (chunk) => out.send(chunkLine('stdout', chunk)),
            onStderr: (chunk) => out.send(chunkLine('stderr', chunk)),
          });
          // A command killed because its sandbox went away did not exit on its own.
          out.send(lease.signal.aborted ? failureLine(lease.signal.reason) : exitLine(result));
        } catch (err) {
          out.send(failureLine(lease.signal.aborted ? lease.signal.reason : err));
        }
        out.end();
      });
    },
  });
}
