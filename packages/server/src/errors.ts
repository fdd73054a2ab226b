/**
 * The one place a failure becomes an HTTP response. Routes and middleware throw; this module
 * turns what they threw into the wire envelope (wire-v1.md section 2.1) with the catalogue
 * status. Nothing else in the server builds an error body.
 */
import { getSystemErrorMap } from 'node:util';
import { type ErrorContext, MitosError, redact } from '@mitos/protocol';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import { connectErrorResponse, isConnectCall } from './connect/codes.js';
import type { AppEnv } from './env.js';

export type ErrorResponder = (err: unknown, c: Context<AppEnv>, headers?: Record<string, string>) => Response;

/**
 * Builds the responder. `secrets` are scrubbed from every cause as a last line of defence:
 * no code path is meant to put an API key in an error, but a leak here would be public.
 */
export function createErrorResponder(logger: Logger, secrets: readonly string[]): ErrorResponder {
  return (err, c, headers) => {
    const requestId = c.get('requestId');
    const error = toMitosError(err, requestId);
    if (error.status >= 500) {
      logger.error(
        { req_id: requestId, code: error.code, err: err instanceof MitosError ? (err.cause ?? err) : err },
        'request failed',
      );
    }
    if (isConnectCall(c.req.method, c.req.path)) return connectErrorResponse(error, secrets);
    const envelope = error.toEnvelope();
    if (envelope.error.cause !== undefined) envelope.error.cause = redact(envelope.error.cause, secrets);
    const res = c.json(envelope, error.status as ContentfulStatusCode);
    for (const [name, value] of Object.entries(headers ?? {})) res.headers.set(name, value);
    return res;
  };
}

function toMitosError(err: unknown, requestId: string): MitosError {
  if (err instanceof MitosError) return err;
  if (isZodError(err)) return new MitosError('invalid_json', describeZodIssues(err.issues));
  if (isStorageFull(err)) return storageFull(err);
  // Unknown errors carry whatever their thrower put in them (paths, stacks, maybe more), so
  // only the request id goes out; the full error is in the log under the same id.
  return new MitosError('internal', `unexpected server error (request id ${requestId})`, {
    request_id: requestId,
  });
}

interface ZodIssueLike {
  code?: string;
  path: ReadonlyArray<PropertyKey>;
  message: string;
}

function isZodError(err: unknown): err is { issues: ZodIssueLike[] } {
  // Checked structurally so a second copy of zod in node_modules cannot slip past as a 500.
  return err instanceof Error && err.name === 'ZodError' && Array.isArray((err as { issues?: unknown }).issues);
}

/** "sandbox is required; timeout: Too small: expected number to be >=0" */
export function describeZodIssues(issues: readonly ZodIssueLike[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => {
      const field = issue.path.map(String).join('.');
      if (field && issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) {
        return `${field} is required`;
      }
      if (!field) return issue.message;
      return `${field}: ${issue.message}`;
    })
    .join('; ');
}

/**
 * Wraps a failure from the engine. MitosErrors pass through with their own code, detail and
 * context (the given context only fills keys the engine left out); anything else becomes
 * `fallback` with an errno-level cause, because raw Node errors name host paths.
 */
export function engineFailure(
  err: unknown,
  fallback: 'exec_failed' | 'file_failed' | 'internal',
  context: ErrorContext,
): MitosError {
  if (err instanceof MitosError) {
    const merged = { ...context, ...err.context };
    if (sameKeys(merged, err.context)) return err;
    return new MitosError(err.code, err.detail, merged, {
      status: err.status,
      message: err.message,
      remediation: err.remediation,
      cause: err,
    });
  }
  if (isStorageFull(err)) return storageFull(err);
  const errno = errnoOf(err);
  if (errno?.name === 'ENOENT')
    return new MitosError('not_found', 'no such file or directory', context, { cause: err });
  const detail = errno ? `${errno.name}: ${errno.description}` : 'the engine reported an unexpected error';
  return new MitosError(fallback, detail, context, { cause: err });
}

/**
 * One line describing a failure that happens after a stream's 200 went out, for the stream's
 * own terminal frame (there is no envelope then). Same rules as engineFailure: a MitosError's
 * detail, else only an errno-level summary.
 */
export function failureDetail(err: unknown): string {
  const error = engineFailure(err, 'internal', {});
  return error.detail || error.message;
}

/** SQLite's "database or disk is full" (and a write that hit ENOSPC) when the state disk fills. */
function isStorageFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT';
}

function storageFull(err: unknown): MitosError {
  return new MitosError('disk_full', 'the server state directory is out of space', {}, { cause: err });
}

function sameKeys(a: ErrorContext, b: ErrorContext): boolean {
  return Object.keys(a).length === Object.keys(b).length;
}

function errnoOf(err: unknown): { name: string; description: string } | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { errno, code } = err as { errno?: unknown; code?: unknown };
  if (typeof errno === 'number') {
    const entry = getSystemErrorMap().get(errno);
    if (entry) return { name: entry[0], description: entry[1] };
  }
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return { name: code, description: 'system error' };
  return undefined;
}
