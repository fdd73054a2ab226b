/**
 * Failures in the shapes the E2B SDKs decode, so each raises its own typed error:
 * - control plane and envd REST: JSON `{code: <http status>, message}` with that status
 *   (the SDK maps 400 -> InvalidArgumentError, 401 -> AuthenticationError, 404 -> NotFound...);
 * - envd Connect services: a ConnectError whose code the SDK maps the same way.
 * The message keeps mitos's code and remediation so a user still learns what to do.
 */
import { ConnectError } from '@connectrpc/connect';
import { MitosError, redact } from '@mitos/protocol';
import type { Logger } from 'pino';
import { connectCodeFor } from '../connect/codes.js';

export function asMitosError(err: unknown): MitosError {
  if (err instanceof MitosError) return err;
  if (err instanceof Error && err.name === 'ZodError') return new MitosError('invalid_request', err.message);
  return new MitosError('internal', 'unexpected server error', {}, { cause: err });
}

/** `[code] detail (remediation)` — one line a user can act on. */
export function describe(error: MitosError): string {
  const what = error.detail === '' ? error.message : `${error.message}: ${error.detail}`;
  return `[${error.code}] ${what}${error.remediation ? ` (${error.remediation})` : ''}`;
}

export function e2bErrorResponse(err: unknown, logger: Logger, secrets: readonly string[]): Response {
  const error = asMitosError(err);
  if (error.status >= 500) logger.error({ code: error.code, err: error.cause ?? err }, 'e2b request failed');
  const message = redact(describe(error), secrets) as string;
  return Response.json({ code: error.status, message }, { status: error.status });
}

export function toConnectError(err: unknown, logger: Logger): ConnectError {
  if (err instanceof ConnectError) return err;
  const error = asMitosError(err);
  if (error.status >= 500 && error.code !== 'not_implemented') {
    logger.error({ code: error.code, err: error.cause ?? err }, 'e2b envd call failed');
  }
  return new ConnectError(describe(error), connectCodeFor(error));
}
