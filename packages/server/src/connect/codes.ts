/**
 * Our error catalogue in Connect's terms. The clients of the Connect wire key their typed
 * errors on the Connect code (deadline_exceeded becomes their exec-timeout error, not_found
 * their not-found error, and so on), so each catalogue code maps to the Connect code a client
 * should branch on. The envelope's own code, remediation and context travel too: in the
 * message (what the clients show as the cause) and as `mitos-error-*` metadata. The E2B
 * surface's envd services use the same mapping.
 */
import { Code, ConnectError } from '@connectrpc/connect';
import { codeToHttpStatus, errorToJson } from '@connectrpc/connect/protocol-connect';
import { type ErrorCode, type MitosError, redact } from '@mitos/protocol';

const CONNECT_CODE: Record<ErrorCode, Code> = {
  invalid_json: Code.InvalidArgument,
  invalid_request: Code.InvalidArgument,
  timeout_too_large: Code.InvalidArgument,
  // Not resource_exhausted: the mitos clients read that as their too-many-streams error.
  body_too_large: Code.InvalidArgument,
  unauthorized: Code.Unauthenticated,
  forbidden: Code.PermissionDenied,
  not_found: Code.NotFound,
  idle_timeout: Code.NotFound,
  method_not_allowed: Code.Unimplemented,
  not_implemented: Code.Unimplemented,
  conflict: Code.AlreadyExists,
  workspace_busy: Code.FailedPrecondition,
  workspace_too_large: Code.ResourceExhausted,
  idempotency_in_flight: Code.Aborted,
  too_many_streams: Code.ResourceExhausted,
  too_many_forwards: Code.ResourceExhausted,
  rate_limited: Code.ResourceExhausted,
  capacity_exhausted: Code.ResourceExhausted,
  template_not_ready: Code.Unavailable,
  disk_full: Code.ResourceExhausted,
  exec_timeout: Code.DeadlineExceeded,
  canceled: Code.Canceled,
  sandbox_not_running: Code.FailedPrecondition,
  host_unsupported: Code.FailedPrecondition,
  build_failed: Code.FailedPrecondition,
  registry_auth: Code.PermissionDenied,
  image_not_found: Code.NotFound,
  exec_failed: Code.Internal,
  file_failed: Code.Internal,
  kernel_unavailable: Code.Internal,
  template_build_failed: Code.Internal,
  internal: Code.Internal,
};

/** For codes outside the catalogue (none today): the nearest Connect code for the HTTP status. */
function codeForStatus(status: number): Code {
  if (status === 400) return Code.InvalidArgument;
  if (status === 401) return Code.Unauthenticated;
  if (status === 403) return Code.PermissionDenied;
  if (status === 404) return Code.NotFound;
  if (status === 409) return Code.Aborted;
  if (status === 429) return Code.ResourceExhausted;
  if (status === 501) return Code.Unimplemented;
  if (status === 503) return Code.Unavailable;
  return Code.Internal;
}

export function connectCodeFor(error: MitosError): Code {
  return (CONNECT_CODE as Record<string, Code>)[error.code] ?? codeForStatus(error.status);
}

/** A MitosError as a ConnectError; `secrets` are scrubbed from the message. */
export function mitosToConnect(error: MitosError, secrets: readonly string[] = []): ConnectError {
  const detail = redact(error.detail || error.message, secrets);
  const metadata = new Headers({ 'mitos-error-code': error.code });
  metadata.set('mitos-error-remediation', error.remediation);
  if (Object.keys(error.context).length > 0) metadata.set('mitos-error-context', JSON.stringify(error.context));
  return new ConnectError(`${error.code}: ${detail} (${error.remediation})`, connectCodeFor(error), metadata);
}

/**
 * The Connect error response for a failure before the Connect handler ran (auth, an unknown
 * method): the status Connect assigns to the code and the `{code, message}` body every
 * Connect client reads, instead of our /v1 envelope.
 */
export function connectErrorResponse(error: MitosError, secrets: readonly string[]): Response {
  const connectError = mitosToConnect(error, secrets);
  const headers = new Headers({ 'Content-Type': 'application/json' });
  for (const [name, value] of connectError.metadata) headers.set(name, value);
  return new Response(JSON.stringify(errorToJson(connectError, undefined)), {
    status: codeToHttpStatus(connectError.code),
    headers,
  });
}

/** POSTs under the service path are Connect calls; their failures answer in Connect's shape. */
export const CONNECT_SERVICE_PREFIX = '/sandbox.v1.Sandbox/';

export function isConnectCall(method: string, path: string): boolean {
  return method === 'POST' && path.startsWith(CONNECT_SERVICE_PREFIX);
}
