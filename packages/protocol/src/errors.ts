/**
 * The error catalogue: every failure mitos reports carries one of these stable codes.
 * Codes, HTTP statuses, messages and remediations are public API (docs/errors.md);
 * the seed wire protocol (wire-v1.md section 2.2) fixes the ones it shares with us.
 */
import { z } from 'zod';

export interface CatalogueEntry {
  readonly status: number;
  readonly message: string;
  readonly remediation: string;
}

export const ERROR_CATALOGUE = {
  invalid_json: {
    status: 400,
    message: 'the request is malformed',
    remediation: 'fix the request body or parameters as the cause describes',
  },
  invalid_request: {
    status: 400,
    message: 'the request has an invalid field',
    remediation: 'fix the field named in the cause and retry',
  },
  body_too_large: {
    status: 413,
    message: 'the request body is larger than the server accepts',
    remediation: 'send a smaller body (split large files into several writes)',
  },
  unauthorized: {
    status: 401,
    message: 'missing or invalid bearer token',
    remediation: 'pass a valid API key (argument, MITOS_API_KEY, or `mitos auth login --token`)',
  },
  forbidden: {
    status: 403,
    message: 'the credentials do not allow this operation',
    remediation: 'use a key or token issued for this sandbox',
  },
  not_found: {
    status: 404,
    message: 'the requested resource does not exist',
    remediation: 'confirm the id exists (GET /v1/sandboxes, GET /v1/templates) and is running',
  },
  method_not_allowed: {
    status: 405,
    message: 'the method is not allowed on this route',
    remediation: 'use the method given in the Allow header',
  },
  conflict: {
    status: 409,
    message: 'the request conflicts with the current state',
    remediation: 'wait for the other operation to finish, then retry',
  },
  idempotency_in_flight: {
    status: 409,
    message: 'a request with this Idempotency-Key is still in progress',
    remediation: 'wait for the first request to finish, then retry with the same key to get its result',
  },
  too_many_streams: {
    status: 429,
    message: 'too many concurrent streams for this sandbox',
    remediation: 'close an open exec stream, run_code stream or terminal, then retry',
  },
  too_many_forwards: {
    status: 429,
    message: 'too many port forwards for this sandbox',
    remediation: 'close an existing forward (or terminate the sandbox) before opening another',
  },
  rate_limited: {
    status: 429,
    message: 'too many requests',
    remediation: 'back off and retry after the delay in context.retry_after_ms',
  },
  idle_timeout: {
    status: 410,
    message: 'the sandbox was stopped after being idle',
    remediation: 'create a new sandbox, or raise its timeout with set_timeout',
  },
  exec_timeout: {
    status: 504,
    message: 'the command did not finish before its timeout',
    remediation: 'raise the timeout, or run long commands in the background',
  },
  canceled: {
    status: 499,
    message: 'the request was canceled',
    remediation: 'retry if the cancellation was not intended',
  },
  timeout_too_large: {
    status: 400,
    message: 'the requested timeout is above the server ceiling',
    remediation: 'request a timeout at or below context.max_timeout_s',
  },
  exec_failed: {
    status: 500,
    message: 'the command could not be run',
    remediation: 'check that the sandbox is running and the command exists; inspect server logs',
  },
  file_failed: {
    status: 500,
    message: 'the file operation failed',
    remediation: 'check the path exists and is the right kind (file or directory)',
  },
  sandbox_not_running: {
    status: 409,
    message: 'the sandbox is not in a state that allows this operation',
    remediation: 'resume the sandbox, or wait until it has finished starting',
  },
  kernel_unavailable: {
    status: 500,
    message: 'the code interpreter could not be started',
    remediation: 'use a template that has the language runtime (python, node), or check the cause',
  },
  template_build_failed: {
    status: 500,
    message: 'the template root filesystem could not be built',
    remediation: 'check network access to the Debian mirror and disk space, then retry; see server logs',
  },
  host_unsupported: {
    status: 500,
    message: 'this host lacks a feature the engine needs',
    remediation: 'run `mitos doctor` and follow its advice',
  },
  capacity_exhausted: {
    status: 503,
    message: 'the server has no room for another sandbox',
    remediation: 'terminate unused sandboxes or raise the server limits',
  },
  template_not_ready: {
    status: 503,
    message: 'the template is still being prepared on this node',
    remediation:
      'retry once the template is ready (the controller retries on its own); a failed build is named in the cause',
  },
  disk_full: {
    status: 507,
    message: 'the storage is full',
    remediation: 'free space in the sandbox or on the server state directory',
  },
  build_failed: {
    status: 422,
    message: 'a template build step failed',
    remediation: 'inspect the failing step named in context.step',
  },
  workspace_busy: {
    status: 409,
    message: 'the workspace already has a writer',
    remediation: 'terminate the sandbox named in context.writer (it commits), or fork the workspace and write there',
  },
  workspace_too_large: {
    status: 413,
    message: 'the workspace tree is over the size a revision may hold',
    remediation: 'remove or shrink the file named in context.path (limits in context), then commit again',
  },
  registry_auth: {
    status: 502,
    message: 'the image registry refused the credentials',
    remediation:
      'log in to the registry (~/.docker/config.json or MITOS_REGISTRY_AUTH) with an account that can pull the image named in the cause',
  },
  image_not_found: {
    status: 404,
    message: 'the image reference does not exist in its registry',
    remediation: 'check the image name, tag or digest named in the cause (and that it has a linux/amd64 variant)',
  },
  not_implemented: {
    status: 501,
    message: 'this operation is not available on this server',
    remediation: 'see the cause for how to enable it',
  },
  internal: {
    status: 500,
    message: 'internal server error',
    remediation: 'retry; if it persists, inspect the server logs',
  },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export type ErrorContext = Record<string, string | number | boolean>;

/** The wire body of every error (wire-v1.md section 2.1). */
export const ErrorEnvelopeSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    cause: z.string().optional(),
    remediation: z.string(),
    context: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  }),
});
export type ErrorEnvelope = z.infer<typeof ErrorEnvelopeSchema>;

const BRAND = Symbol.for('mitos.error');

/**
 * A failure with a stable code. Thrown by the engine, turned into the envelope by the
 * server, and rebuilt (as a subclass keyed by code) by the SDK.
 */
export class MitosError extends Error {
  readonly code: string;
  readonly status: number;
  readonly remediation: string;
  readonly context: ErrorContext;
  /** Call-site detail; named `detail` because Error#cause is an object slot in ES2022. */
  readonly detail: string;

  constructor(
    code: ErrorCode | (string & {}),
    detail = '',
    context: ErrorContext = {},
    options: { status?: number; message?: string; remediation?: string; cause?: unknown } = {},
  ) {
    const entry = (ERROR_CATALOGUE as Record<string, CatalogueEntry>)[code] ?? ERROR_CATALOGUE.internal;
    super(options.message ?? entry.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MitosError';
    this.code = code;
    this.status = options.status ?? entry.status;
    this.remediation = options.remediation ?? entry.remediation;
    this.context = context;
    this.detail = detail;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  get [BRAND](): boolean {
    return true;
  }

  toEnvelope(): ErrorEnvelope {
    const body: ErrorEnvelope['error'] = { code: this.code, message: this.message, remediation: this.remediation };
    if (this.detail) body.cause = this.detail;
    if (Object.keys(this.context).length > 0) body.context = this.context;
    return { error: body };
  }
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CATALOGUE, code);
}

export { redact } from './redact.js';
