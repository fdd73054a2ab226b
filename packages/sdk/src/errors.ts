/**
 * The SDK's error family. Every failure is an {@link AgentRunError} with a stable `code`;
 * the subclass is chosen by code (wire-v1.md 2.3), so `catch (e) { if (e instanceof
 * NotFoundError) ... }` and `e.code === 'not_found'` always agree.
 *
 * `instanceof` checks a `Symbol.for` brand instead of the prototype chain, so errors
 * thrown by one copy of this package are recognised by another (duplicated installs).
 * @module
 */

import type { ErrorEnvelope, ErrorContext as WireErrorContext } from '@mitos/protocol';

/** An error's context: the wire's flat map of strings, numbers and booleans. */
export type ErrorContext = WireErrorContext;

export interface AgentRunErrorInit {
  code: string;
  /** One-line summary (catalogue text for server errors). */
  message: string;
  /** Call-site detail; for server errors the envelope `cause` or the response body. */
  cause?: string | undefined;
  remediation: string;
  /** HTTP status; undefined for errors raised before or without a response. */
  status?: number | undefined;
  context?: ErrorContext | undefined;
}

/** The envelope shape (wire-v1.md 2.1), as printed by `mitos --json`: protocol's own type. */
export type ErrorEnvelopeJson = ErrorEnvelope;

type Branded = { readonly brand?: symbol };

export class AgentRunError extends Error {
  static readonly brand: symbol = Symbol.for('mitos.sdk.AgentRunError');

  readonly code: string;
  readonly status: number | undefined;
  /** Named `errorCause` because `Error#cause` is the ES2022 slot for a wrapped error. */
  readonly errorCause: string;
  readonly remediation: string;
  readonly context: ErrorContext;
  /** The one-line summary without cause and remediation (`message` carries all three). */
  readonly summary: string;

  constructor(init: AgentRunErrorInit, options?: { cause?: unknown }) {
    super(formatMessage(init), options);
    this.name = new.target.name;
    this.code = init.code;
    this.status = init.status;
    this.errorCause = init.cause ?? '';
    this.remediation = init.remediation;
    this.context = init.context ?? {};
    this.summary = init.message;
    for (let c: unknown = new.target; typeof c === 'function'; c = Object.getPrototypeOf(c)) {
      const brand = Object.hasOwn(c, 'brand') ? (c as Branded).brand : undefined;
      if (brand) Object.defineProperty(this, brand, { value: true });
    }
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of instanceof, maybe a subclass.
    const brand = (this as Branded).brand;
    return typeof value === 'object' && value !== null && brand !== undefined && Object.hasOwn(value, brand);
  }

  toEnvelope(): ErrorEnvelopeJson {
    // Field order as on the wire (wire-v1.md 2.1), so printed envelopes read the same.
    const body: ErrorEnvelopeJson['error'] = {
      code: this.code,
      message: this.summary,
      ...(this.errorCause ? { cause: this.errorCause } : {}),
      remediation: this.remediation,
      ...(Object.keys(this.context).length > 0 ? { context: this.context } : {}),
    };
    return { error: body };
  }
}

function formatMessage(init: AgentRunErrorInit): string {
  let text = `[${init.code}] ${init.message}`;
  if (init.cause) text += ` | cause: ${init.cause}`;
  if (init.remediation) text += ` | remediation: ${init.remediation}`;
  return text;
}

/** `not_found`: unknown sandbox, template or path. */
export class NotFoundError extends AgentRunError {
  static override readonly brand: symbol = Symbol.for('mitos.sdk.NotFoundError');
}
/** `unauthorized`: missing or rejected API key. */
export class UnauthorizedError extends AgentRunError {
  static override readonly brand: symbol = Symbol.for('mitos.sdk.UnauthorizedError');
}
/** `exec_timeout`: the command ran past its timeout and was killed (exit 124 in the sandbox). */
export class ExecutionDeadlineError extends AgentRunError {
  static override readonly brand: symbol = Symbol.for('mitos.sdk.ExecutionDeadlineError');
}
/** `timeout_too_large`: a requested timeout above the ceiling (client-side: 86400 s). */
export class TimeoutTooLargeError extends AgentRunError {
  static override readonly brand: symbol = Symbol.for('mitos.sdk.TimeoutTooLargeError');
}
/** `rate_limited`: back off for `context.retry_after_ms`. */
export class RateLimitedError extends AgentRunError {
  static override readonly brand: symbol = Symbol.for('mitos.sdk.RateLimitedError');
}
/** `idle_timeout`: the sandbox was stopped after being idle. */
export class IdleTimeoutError extends AgentRunError {
  static override readonly brand: symbol = Symbol.for('mitos.sdk.IdleTimeoutError');
}
/** `canceled`: the server reports the request was canceled. */
export class RequestCanceledError extends AgentRunError {
  static override readonly brand: symbol = Symbol.for('mitos.sdk.RequestCanceledError');
}
/** `file_failed`: a file operation inside the sandbox failed; see `context.path`. */
export class FileError extends AgentRunError {
  static override readonly brand: symbol = Symbol.for('mitos.sdk.FileError');
}
/** `conflict` / `idempotency_in_flight`: retry once the other operation has finished. */
export class ConflictError extends AgentRunError {
  static override readonly brand: symbol = Symbol.for('mitos.sdk.ConflictError');
}

/** `sandbox_not_running`: the sandbox is paused; resume it (or terminate it) first. */
export class SandboxNotRunningError extends AgentRunError {
  static override readonly brand: symbol = Symbol.for('mitos.sdk.SandboxNotRunningError');
}

const CLASS_BY_CODE: Readonly<Record<string, new (init: AgentRunErrorInit) => AgentRunError>> = {
  not_found: NotFoundError,
  unauthorized: UnauthorizedError,
  exec_timeout: ExecutionDeadlineError,
  timeout_too_large: TimeoutTooLargeError,
  rate_limited: RateLimitedError,
  idle_timeout: IdleTimeoutError,
  canceled: RequestCanceledError,
  file_failed: FileError,
  conflict: ConflictError,
  idempotency_in_flight: ConflictError,
  workspace_busy: ConflictError,
  sandbox_not_running: SandboxNotRunningError,
};

/** Build the class selected by `init.code`; unknown codes give the base class. */
export function errorForCode(init: AgentRunErrorInit, options?: { cause?: unknown }): AgentRunError {
  const Class = Object.hasOwn(CLASS_BY_CODE, init.code) ? CLASS_BY_CODE[init.code] : undefined;
  return Class ? new (Class as typeof AgentRunError)(init, options) : new AgentRunError(init, options);
}
