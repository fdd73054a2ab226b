/**
 * POST /v1/run_code/stream (wire-v1.md 4.9): one cell in the sandbox's stateful kernel, as
 * NDJSON frames. Pre-stream failures are envelopes, as for exec streams. After the 200 the
 * stream always ends with an `exit` frame: a language without a kernel is reported the seed's
 * way (`KernelUnavailable`, exit 127), any other failure as `KernelStreamError`, exit 1.
 */
import type { RunCodeOutcome } from '@mitos/engine';
import { MitosError, RunCodeRequestSchema } from '@mitos/protocol';
import { clientSignal } from '../client-signal.js';
import type { SandboxRouteDeps } from '../env.js';
import { engineFailure, failureDetail } from '../errors.js';
import { readJson } from '../json-body.js';
import { sandboxIdOf } from '../lookup.js';
import type { Router } from '../routing.js';
import { errorFrame, exitFrame, KERNEL_UNAVAILABLE_EXIT, outputFrame, resultFrame } from '../streaming/code-frames.js';
import { acceptedNdjsonResponse, type NdjsonWriter } from '../streaming/ndjson.js';
import { effectiveTimeout } from './exec.js';

export const DEFAULT_RUN_CODE_TIMEOUT_SECONDS = 60;

export function registerRunCodeRoutes(
  router: Router,
  { engine, maxExecTimeoutSeconds, streams }: SandboxRouteDeps,
): void {
  router.route('/v1/run_code/stream', {
    POST: (c) => {
      const body = readJson(c, RunCodeRequestSchema);
      const sandboxId = sandboxIdOf(c, body.sandbox);
      const timeoutS = effectiveTimeout(
        body.timeout,
        sandboxId,
        maxExecTimeoutSeconds,
        DEFAULT_RUN_CODE_TIMEOUT_SECONDS,
      );
      // The engine's lookup is the only one: the 200 waits for it to accept the cell.
      return acceptedNdjsonResponse(streams, sandboxId, clientSignal(c), async (stream) => {
        const { out, sandboxGone } = stream;
        const sent = { stdout: 0, stderr: 0, results: 0 };
        try {
          const outcome = await engine.runCode(sandboxId, {
            code: body.code,
            language: body.language || 'python',
            timeoutMs: timeoutS * 1000,
            signal: stream.signal,
            onAccepted: stream.accept,
            onStdout: (chunk) => {
              sent.stdout += chunk.length;
              out.send(outputFrame('stdout', chunk));
            },
            onStderr: (chunk) => {
              sent.stderr += chunk.length;
              out.send(outputFrame('stderr', chunk));
            },
            onResult: (result) => {
              sent.results += 1;
              out.send(resultFrame(result));
            },
          });
          if (sandboxGone.aborted) throw sandboxGone.reason;
          sendRemainder(out, outcome, sent);
          if (outcome.error) out.send(errorFrame(outcome.error));
          out.send(exitFrame(outcome.exitCode));
        } catch (err) {
          if (!stream.accepted) throw engineFailure(err, 'exec_failed', { sandbox: sandboxId });
          const nothingSent = sent.stdout + sent.stderr + sent.results === 0;
          if (nothingSent && isKernelUnavailable(err)) {
            out.send(errorFrame({ name: 'KernelUnavailable', value: failureDetail(err), traceback: [] }));
            out.send(exitFrame(KERNEL_UNAVAILABLE_EXIT));
          } else {
            const cause = sandboxGone.aborted ? sandboxGone.reason : err;
            out.send(errorFrame({ name: 'KernelStreamError', value: failureDetail(cause), traceback: [] }));
            out.send(exitFrame(1));
          }
        }
        out.end();
      });
    },
  });
}

/**
 * Whatever the outcome holds beyond what the callbacks delivered: an engine may report some
 * or all of a cell's output only in its outcome, and nothing may be lost or sent twice.
 */
function sendRemainder(
  out: NdjsonWriter,
  outcome: RunCodeOutcome,
  sent: { stdout: number; stderr: number; results: number },
): void {
  if (outcome.stdout.length > sent.stdout) out.send(outputFrame('stdout', outcome.stdout.subarray(sent.stdout)));
  if (outcome.stderr.length > sent.stderr) out.send(outputFrame('stderr', outcome.stderr.subarray(sent.stderr)));
  for (const result of outcome.results.slice(sent.results)) out.send(resultFrame(result));
}

/** The engine refuses a language it has no kernel for with invalid_request (or kernel_unavailable). */
function isKernelUnavailable(err: unknown): boolean {
  return err instanceof MitosError && (err.code === 'invalid_request' || err.code === 'kernel_unavailable');
}
