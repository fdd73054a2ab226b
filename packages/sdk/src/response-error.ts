/**
 * One table from an HTTP error response to an SDK error (wire-v1.md 2.3): defaults come
 * from the status, the envelope overrides them, and the class is chosen by the final code.
 * @module
 */
import { redact } from '@mitos/protocol/client';
import { type AgentRunError, type ErrorContext, errorForCode } from './errors.js';

/** Bodies are quoted into `cause`; a proxy's HTML page should not become a 1 MB message. */
const MAX_CAUSE_CHARS = 4000;

export function fallbackCode(status: number): string {
  switch (status) {
    case 400:
      return 'bad_request';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limited';
    case 500:
      return 'internal_error';
    case 503:
      return 'unavailable';
    default:
      return status >= 500 ? 'server_error' : 'request_failed';
  }
}

export function fallbackRemediation(status: number): string {
  if (status === 401 || status === 403) return 'check the bearer token (MITOS_API_KEY or `mitos auth login --token`)';
  if (status === 404) return 'confirm the id exists and is running (`mitos sandbox ls`, `mitos template ls`)';
  if (status === 413) return 'reduce the payload size';
  if (status === 429) return 'back off and retry later';
  if (status >= 500) return 'retry; if it persists, inspect the server logs';
  return 'inspect the request fields';
}

/**
 * Map a non-2xx response to an error. Every secret is removed from the whole body before
 * it is parsed, so no field of the resulting error can carry it, whatever the server echoed.
 */
export function errorFromResponse(
  status: number,
  body: string,
  secrets: ReadonlyArray<string | undefined>,
): AgentRunError {
  const text = redact(body, secrets).trim();
  const code = fallbackCode(status);
  const init = {
    code,
    message: `sandbox API request failed: HTTP ${status} (${code})`,
    cause: text ? truncate(text) : `HTTP ${status}`,
    remediation: fallbackRemediation(status),
    status,
    context: {} as ErrorContext,
  };

  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    doc = undefined;
  }
  if (doc === undefined && looksLikeHtml(text)) {
    // No mitos server (nor the seed's) answers with a page: it is another web server, or a
    // proxy speaking for one. Auth and rate limits keep their meaning; the page is summarised.
    if (status >= 500 || status === 401 || status === 403 || status === 429) {
      return errorForCode({ ...init, cause: summarize(text) });
    }
    return notMitosServer(status, text);
  }
  const err = isObject(doc) ? doc.error : undefined;
  if (isObject(err)) {
    if (nonEmptyString(err.code)) init.code = err.code;
    if (nonEmptyString(err.message)) init.message = err.message;
    if (nonEmptyString(err.remediation)) init.remediation = err.remediation;
    if (nonEmptyString(err.cause)) init.cause = truncate(err.cause);
    if (isObject(err.context)) init.context = flatContext(err.context);
  } else if (nonEmptyString(err)) {
    // Legacy servers answer {"error": "message"}.
    init.cause = truncate(err);
  }
  return errorForCode(init);
}

/** The wire's context is flat; anything else a server sent (nested, null) is left out. */
function flatContext(context: Record<string, unknown>): ErrorContext {
  const flat: ErrorContext = {};
  for (const [key, value] of Object.entries(context)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') flat[key] = value;
  }
  return flat;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

function truncate(text: string): string {
  return text.length > MAX_CAUSE_CHARS ? `${text.slice(0, MAX_CAUSE_CHARS)}... (truncated)` : text;
}

/**
 * The base URL reaches an HTTP server that is not mitos (another web server, a proxy's page).
 * Said as such, instead of a `not_found` that sends the user looking for a sandbox id.
 */
export function notMitosServer(status: number, body: string): AgentRunError {
  return errorForCode({
    code: 'not_mitos_server',
    message: 'the base URL answers, but not as a mitos server',
    cause: `HTTP ${status} with a body that is not a mitos JSON answer: ${summarize(body)}`,
    remediation:
      'point --base-url (or MITOS_BASE_URL, or the credentials file) at a `mitos serve` address, e.g. http://127.0.0.1:8080; `mitos auth whoami` checks it',
    status,
    context: {},
  });
}

export function looksLikeHtml(body: string): boolean {
  return /^\s*<(!doctype html|html|head|body)\b/i.test(body);
}

/** A page's title, or its text without tags, short: never a whole HTML dump in an error. */
function summarize(body: string): string {
  const title = /<title[^>]*>([^<]*)<\/title>/i.exec(body)?.[1]?.trim();
  const text = (title || body.replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim();
  if (!text) return '(empty body)';
  return text.length > 200 ? `${JSON.stringify(text.slice(0, 200))}...` : JSON.stringify(text);
}
