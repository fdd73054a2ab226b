/**
 * Client-side checks that fail fast, before any request, with the same codes the server
 * would use. A bad id would otherwise surface as a confusing 404 or a malformed URL.
 * @module
 */
import { ID_PATTERN, MAX_TIMEOUT_SECONDS } from '@mitos/protocol/client';
import { AgentRunError, TimeoutTooLargeError } from './errors.js';

export function assertId(id: unknown, what: 'sandbox' | 'template'): asserts id is string {
  if (typeof id === 'string' && ID_PATTERN.test(id)) return;
  throw new AgentRunError({
    code: 'invalid_request',
    message: `invalid ${what} id`,
    cause: `${JSON.stringify(id)} does not match ${ID_PATTERN.source}`,
    remediation: 'use 1-64 letters, digits, "_" or "-", starting with a letter or digit',
    context: { field: what === 'sandbox' ? 'id' : 'template' },
  });
}

/** Validate a timeout in whole seconds; above 86400 is `timeout_too_large`, as in the seed SDK. */
export function assertTimeoutSeconds(seconds: unknown, field = 'timeoutSeconds'): asserts seconds is number {
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0) {
    throw new AgentRunError({
      code: 'invalid_request',
      message: 'invalid timeout',
      cause: `${field} must be a whole number of seconds >= 0, got ${String(seconds)}`,
      remediation: `pass ${field} as a non-negative integer (0 uses the server default)`,
      context: { field },
    });
  }
  if (seconds > MAX_TIMEOUT_SECONDS) {
    throw new TimeoutTooLargeError({
      code: 'timeout_too_large',
      message: 'the requested timeout is above the ceiling',
      cause: `requested ${seconds} s, the maximum is ${MAX_TIMEOUT_SECONDS} s`,
      remediation: `request at most ${MAX_TIMEOUT_SECONDS} seconds, or run long commands in the background`,
      context: { requested_s: seconds, max_timeout_s: MAX_TIMEOUT_SECONDS },
    });
  }
}

/** An Idempotency-Key must be a legal header value; fetch would reject it as a TypeError. */
export function assertIdempotencyKey(key: unknown): asserts key is string {
  if (typeof key === 'string' && /^[\x21-\x7e]{1,255}$/.test(key)) return;
  throw new AgentRunError({
    code: 'invalid_request',
    message: 'invalid idempotency key',
    cause: 'the key must be 1-255 printable ASCII characters without spaces',
    remediation: 'pass a key such as newIdempotencyKey() returns, or omit it',
    context: { field: 'idempotencyKey' },
  });
}

export function assertPath(path: unknown): asserts path is string {
  if (typeof path === 'string' && path !== '') return;
  throw new AgentRunError({
    code: 'invalid_request',
    message: 'invalid path',
    cause: 'the path must be a non-empty string',
    remediation: 'pass an absolute path inside the sandbox, e.g. /workspace/a.txt',
    context: { field: 'path' },
  });
}

/**
 * A sandbox lifetime for set_timeout: unlike a command timeout, 0 has no "server default"
 * meaning, so only 1..86400 whole seconds are accepted.
 */
export function assertLifetimeSeconds(seconds: unknown): asserts seconds is number {
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds <= 0) {
    throw new AgentRunError({
      code: 'invalid_request',
      message: 'invalid timeout',
      cause: `the lifetime must be a whole number of seconds > 0, got ${String(seconds)}`,
      remediation: 'pass the number of seconds from now after which the sandbox is terminated',
      context: { field: 'seconds' },
    });
  }
  assertTimeoutSeconds(seconds, 'seconds');
}

/** A TCP port inside the sandbox, 1..65535 (wire-v1.md 4.19, 4.20). */
export function assertPort(port: unknown): asserts port is number {
  if (typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65_535) return;
  throw new AgentRunError({
    code: 'invalid_request',
    message: 'invalid port',
    cause: `the port must be a whole number from 1 to 65535, got ${String(port)}`,
    remediation: 'pass the port the service listens on inside the sandbox, e.g. 8000',
    context: { field: 'port' },
  });
}

/** A whole number in [min, max], for counts and terminal sizes. */
export function assertIntInRange(value: unknown, min: number, max: number, field: string): asserts value is number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return;
  throw new AgentRunError({
    code: 'invalid_request',
    message: `invalid ${field}`,
    cause: `${field} must be a whole number from ${min} to ${max}, got ${String(value)}`,
    remediation: `pass ${field} between ${min} and ${max}`,
    context: { field },
  });
}
