/**
 * POST /v1/exec/stream (wire-v1.md 4.8): a command's output as NDJSON while it runs.
 * Everything that can fail before the 200 (body, timeout ceiling, sandbox, paused, stream cap)
 * is an ordinary envelope; after it, only the terminal line can carry a failure. A client that
 * disconnects aborts the command (the engine kills its process group): the seed SDK's
 * background `kill()` is exactly a dropped connection.
 */
import { ExecRequestSchema } from '@mitos/protocol';
import { clientSignal } from '../client-signal.js';
import type { SandboxRouteDeps } from '../env.js';
import { engineFailure } from '../errors.js';
import { readJson } from '../json-body.js';
import { sandboxIdOf } from '../lookup.js';
import type { Router } from '../routing.js';
import { chunkLine, exitLine, failureLine } from '../streaming/exec-lines.js';
import { acceptedNdjsonResponse } from '../streaming/ndjson.js';
import { commandOf, effectiveTimeout, stdinOf } from './exec.js';

export function registerExecStreamRoutes(
  router: Router,
  { engine, maxExecTimeoutSeconds, streams }: SandboxRouteDeps,
): void {
  router.route('/v1/exec/stream', {
    POST: (c) => {
      const body = readJson(c, ExecRequestSchema);
      const sandboxId = sandboxIdOf(c, body.sandbox);
      const timeoutS = effectiveTimeout(body.timeout, sandboxId, maxExecTimeoutSeconds);
      // The engine's lookup is the only one: the 200 waits for it to accept the command.
      return acceptedNdjsonResponse(streams, sandboxId, clientSignal(c), async (stream) => {
        const { out, sandboxGone } = stream;
        try {
          const result = await engine.exec(sandboxId, {
            ...commandOf(body),
            ...stdinOf(body),
            timeoutMs: timeoutS * 1000,
            signal: stream.signal,
            onAccepted: stream.accept,
            onStdout: (chunk) => out.send(chunkLine('stdout', chunk)),
            onStderr: (chunk) => out.send(chunkLine('stderr', chunk)),
          });
          // A command killed because its sandbox went away did not exit on its own.
          out.send(sandboxGone.aborted ? failureLine(sandboxGone.reason) : exitLine(result));
        } catch (err) {
          if (!stream.accepted) throw engineFailure(err, 'exec_failed', { sandbox: sandboxId });
          out.send(failureLine(sandboxGone.aborted ? sandboxGone.reason : err));
        }
        out.end();
      });
    },
  });
}
