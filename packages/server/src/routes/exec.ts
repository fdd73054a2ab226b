/**
 * POST /v1/exec (wire-v1.md 4.7): run one command to completion. Checks run in the seed
 * server's order: body, timeout ceiling, sandbox lookup (the engine's), run. A command killed at its deadline
 * is 504 exec_timeout; any other exit code, non-zero included, is a normal 200 result.
 */
import type { ExecOptions } from '@mitos/engine';
import { DEFAULT_EXEC_TIMEOUT_SECONDS, ExecRequestSchema, type ExecResponse, MitosError } from '@mitos/protocol';
import { clientSignal } from '../client-signal.js';
import type { SandboxRouteDeps } from '../env.js';
import { engineFailure } from '../errors.js';
import { readJson } from '../json-body.js';
import { sandboxIdOf } from '../lookup.js';
import type { Router } from '../routing.js';
import { timeAsync } from '../server-timing.js';

export function registerExecRoutes(router: Router, { engine, maxExecTimeoutSeconds }: SandboxRouteDeps): void {
  router.route('/v1/exec', {
    POST: async (c) => {
      const body = readJson(c, ExecRequestSchema);
      const sandboxId = sandboxIdOf(c, body.sandbox);
      const timeoutS = effectiveTimeout(body.timeout, sandboxId, maxExecTimeoutSeconds);
      // The engine looks the sandbox up (not_found / sandbox_not_running) before it runs anything.
      const run = engine.exec(sandboxId, {
        ...commandOf(body),
        ...stdinOf(body),
        timeoutMs: timeoutS * 1000,
        // Aborts when the client goes away, so an abandoned command does not keep running.
        signal: clientSignal(c),
      });
      const result = await timeAsync(c, 'engine', run).catch((err: unknown) => {
        throw engineFailure(err, 'exec_failed', { sandbox: sandboxId });
      });
      if (result.timedOut) {
        throw new MitosError('exec_timeout', `command exceeded its ${timeoutS} s timeout and was killed`, {
          sandbox: sandboxId,
          timeout_s: timeoutS,
        });
      }
      const out: ExecResponse = {
        exit_code: result.exitCode,
        // Buffer#toString replaces invalid UTF-8 with U+FFFD, as the seed's JSON encoder does.
        stdout: result.stdout.toString('utf8'),
        stderr: result.stderr.toString('utf8'),
        exec_time_ms: result.durationMs,
      };
      return c.json(out);
    },
  });
}

/**
 * 0 or absent means the default (lowered to a ceiling below it, since nobody asked for more);
 * an explicit request above the ceiling is refused, never clamped.
 */
export function effectiveTimeout(
  requested: number | undefined,
  sandbox: string,
  maxSeconds: number,
  defaultSeconds = DEFAULT_EXEC_TIMEOUT_SECONDS,
): number {
  if (requested === undefined || requested === 0) {
    return maxSeconds > 0 ? Math.min(defaultSeconds, maxSeconds) : defaultSeconds;
  }
  const timeout = requested;
  if (maxSeconds > 0 && timeout > maxSeconds) {
    throw new MitosError('timeout_too_large', `timeout ${timeout} s is above the server ceiling of ${maxSeconds} s`, {
      sandbox,
      requested_s: timeout,
      max_timeout_s: maxSeconds,
    });
  }
  return timeout;
}

/**
 * The command of an exec, exec stream or process request as the engine takes it: an absent or
 * empty `working_dir` leaves the engine's default directory.
 */
export function commandOf(body: {
  command: string;
  working_dir?: string | undefined;
  env?: Record<string, string> | undefined;
}): Pick<ExecOptions, 'command' | 'cwd' | 'env'> {
  return {
    command: body.command,
    ...(body.working_dir !== undefined && body.working_dir !== '' && { cwd: body.working_dir }),
    ...(body.env !== undefined && { env: body.env }),
  };
}

/** The extension `stdin` (base64) as the bytes the engine writes before closing stdin. */
export function stdinOf(body: { stdin?: string | undefined }): Pick<ExecOptions, 'stdin'> {
  return body.stdin === undefined ? {} : { stdin: Buffer.from(body.stdin, 'base64') };
}
