import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AgentRunError,
  ConflictError,
  ExecutionDeadlineError,
  FileError,
  IdleTimeoutError,
  NotFoundError,
  RateLimitedError,
  RequestCanceledError,
  SandboxNotRunningError,
  TimeoutTooLargeError,
  UnauthorizedError,
} from './errors.js';
import { errorFromResponse } from './response-error.js';
import { envelope } from './test-support/stub-server.js';

describe('errorFromResponse: class chosen by envelope code', () => {
  const rows: [string, number, abstract new (...a: never[]) => AgentRunError][] = [
    ['not_found', 404, NotFoundError],
    ['unauthorized', 401, UnauthorizedError],
    ['exec_timeout', 504, ExecutionDeadlineError],
    ['timeout_too_large', 400, TimeoutTooLargeError],
    ['rate_limited', 429, RateLimitedError],
    ['idle_timeout', 410, IdleTimeoutError],
    ['canceled', 499, RequestCanceledError],
    ['file_failed', 500, FileError],
    ['conflict', 409, ConflictError],
    ['idempotency_in_flight', 409, ConflictError],
    ['sandbox_not_running', 409, SandboxNotRunningError],
  ];
  for (const [code, status, Class] of rows) {
    test(`${code} -> ${Class.name}`, () => {
      const err = errorFromResponse(status, JSON.stringify(envelope(code, 'detail', { sandbox: 's1' })), []);
      assert.ok(err instanceof Class);
      assert.ok(err instanceof AgentRunError);
      assert.equal(err.code, code);
      assert.equal(err.status, status);
      assert.equal(err.errorCause, 'detail');
      assert.equal(err.remediation, `remedy for ${code}`);
      assert.deepEqual(err.context, { sandbox: 's1' });
      assert.equal(err.name, Class.name);
    });
  }

  test('the code wins over the status (a 500 not_found is still NotFoundError)', () => {
    assert.ok(errorFromResponse(500, JSON.stringify(envelope('not_found')), []) instanceof NotFoundError);
  });

  test('an unknown code gives the base class', () => {
    const err = errorFromResponse(500, JSON.stringify(envelope('exec_failed')), []);
    assert.equal(err.code, 'exec_failed');
    assert.equal(err.constructor, AgentRunError);
    assert.ok(!(err instanceof NotFoundError));
  });

  test('message reads [code] message | cause | remediation', () => {
    const err = errorFromResponse(404, JSON.stringify(envelope('not_found', 'sandbox x not found')), []);
    assert.equal(
      err.message,
      '[not_found] catalogue text for not_found | cause: sandbox x not found | remediation: remedy for not_found',
    );
    assert.equal(err.summary, 'catalogue text for not_found');
  });
});

describe('errorFromResponse: fallback from the status', () => {
  const rows: [number, string][] = [
    [400, 'bad_request'],
    [401, 'unauthorized'],
    [403, 'forbidden'],
    [404, 'not_found'],
    [409, 'conflict'],
    [413, 'request_too_large'],
    [429, 'rate_limited'],
    [500, 'internal_error'],
    [502, 'server_error'],
    [503, 'unavailable'],
    [418, 'request_failed'],
  ];
  for (const [status, code] of rows) {
    test(`plain-text ${status} -> ${code}`, () => {
      const err = errorFromResponse(status, '404 page not found\n', []);
      assert.equal(err.code, code);
      assert.equal(err.status, status);
      assert.equal(err.errorCause, '404 page not found');
      assert.ok(err.remediation.length > 0);
    });
  }

  test('non-envelope 401/404/429 still select their classes', () => {
    assert.ok(errorFromResponse(401, '', []) instanceof UnauthorizedError);
    assert.ok(errorFromResponse(404, 'nope', []) instanceof NotFoundError);
    assert.ok(errorFromResponse(429, '<html>', []) instanceof RateLimitedError);
    assert.ok(errorFromResponse(409, '', []) instanceof ConflictError);
  });

  test('an empty body gives cause "HTTP <status>"', () => {
    assert.equal(errorFromResponse(502, '', []).errorCause, 'HTTP 502');
  });

  test('a legacy {"error": "msg"} body becomes the cause', () => {
    const err = errorFromResponse(400, '{"error":"id is required"}', []);
    assert.equal(err.code, 'bad_request');
    assert.equal(err.errorCause, 'id is required');
  });

  test('an envelope without cause keeps the whole body as cause', () => {
    const err = errorFromResponse(500, '{"error":{"code":"internal","message":"m","remediation":"r"}}', []);
    assert.match(err.errorCause, /"code":"internal"/);
  });
});

describe('redaction', () => {
  test('the key is removed from every field before parsing', () => {
    const key = 'sk-live-0123456789abcdef';
    const body = JSON.stringify({
      error: {
        code: 'unauthorized',
        message: `bad ${key}`,
        cause: `token ${key} rejected`,
        remediation: `not ${key}`,
        context: { token: key },
      },
    });
    const err = errorFromResponse(401, body, [key]);
    assert.ok(err instanceof UnauthorizedError);
    const everything = JSON.stringify([
      err.message,
      err.errorCause,
      err.remediation,
      err.context,
      err.summary,
      err.toEnvelope(),
    ]);
    assert.ok(!everything.includes(key));
    assert.match(err.errorCause, /\[REDACTED\]/);
  });

  test('the key is removed from a plain-text body too', () => {
    const err = errorFromResponse(500, 'echo Bearer abc123secret', ['abc123secret']);
    assert.equal(err.errorCause, 'echo Bearer [REDACTED]');
  });
});

describe('instanceof brand', () => {
  test('a look-alike from another copy of the package is recognised by its brand', () => {
    const foreign = Object.defineProperties(new Error('x'), {
      [Symbol.for('mitos.sdk.AgentRunError')]: { value: true },
      [Symbol.for('mitos.sdk.NotFoundError')]: { value: true },
    });
    assert.ok(foreign instanceof NotFoundError);
    assert.ok(foreign instanceof AgentRunError);
    assert.ok(!(foreign instanceof FileError));
  });

  test('a base error is not an instance of a subclass; non-objects are nothing', () => {
    const base = new AgentRunError({ code: 'x', message: 'm', remediation: 'r' });
    assert.ok(base instanceof AgentRunError);
    assert.ok(base instanceof Error);
    assert.ok(!(base instanceof NotFoundError));
    assert.ok(!((null as unknown) instanceof AgentRunError));
    assert.ok(!(new Error('plain') instanceof AgentRunError));
    assert.equal(base.status, undefined);
  });
});
