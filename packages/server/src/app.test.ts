import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeTestApp } from '@mitos/testkit/server';

describe('routing and error envelopes', () => {
  it('answers an unknown path with a 404 not_found envelope', async () => {
    const t = makeTestApp();
    const res = await t.call('/v1/nope');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'not_found');
    assert.equal(typeof res.body.error.message, 'string');
    assert.equal(typeof res.body.error.remediation, 'string');
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  });

  it('answers a known path with the wrong method with 405 and an Allow header', async () => {
    const t = makeTestApp();
    const fork = await t.call('/v1/fork', undefined, { method: 'GET' });
    assert.equal(fork.status, 405);
    assert.equal(fork.body.error.code, 'method_not_allowed');
    assert.equal(fork.headers.get('allow'), 'POST');

    const health = await t.call('/v1/health', {}, { method: 'POST' });
    assert.equal(health.status, 405);
    assert.equal(health.headers.get('allow'), 'GET, HEAD');

    const templates = await t.call('/v1/templates', undefined, { method: 'DELETE' });
    assert.equal(templates.headers.get('allow'), 'GET, HEAD, POST');

    const sandbox = await t.call('/v1/sandboxes/sb-1', undefined, { method: 'PUT' });
    assert.equal(sandbox.status, 405);
    assert.equal(sandbox.headers.get('allow'), 'GET, HEAD, DELETE');
  });

  it('routes POST /v1/files/<unknown verb> to 404 and GET on a file verb to 405', async () => {
    const t = makeTestApp();
    assert.equal((await t.call('/v1/files/chmod', { sandbox: 'sb-1', path: '/' })).status, 404);
    assert.equal((await t.call('/v1/files/read', undefined, { method: 'GET' })).status, 405);
  });

  it('rejects unparsable, empty and non-object bodies with 400 invalid_json', async () => {
    const t = makeTestApp();
    for (const body of ['{"sandbox":', '', '[1,2]', '"x"', 'null']) {
      const res = await t.call('/v1/exec', body, { method: 'POST' });
      assert.equal(res.status, 400, `body ${JSON.stringify(body)}`);
      assert.equal(res.body.error.code, 'invalid_json');
      assert.ok(res.body.error.cause.length > 0);
    }
  });

  it('names missing and mistyped fields in the cause', async () => {
    const t = makeTestApp();
    const missing = await t.call('/v1/exec', { command: 'ls' });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.code, 'invalid_json');
    assert.match(missing.body.error.cause, /sandbox is required/);

    const mistyped = await t.call('/v1/exec', { sandbox: 'sb-1', command: 'ls', timeout: 'soon' });
    assert.equal(mistyped.status, 400);
    assert.match(mistyped.body.error.cause, /^timeout: /);
  });

  it('ignores unknown fields', async () => {
    const t = makeTestApp();
    const res = await t.call('/v1/templates', { id: 'python', init_wait_seconds: 1, colour: 'blue' });
    assert.equal(res.status, 200);
  });

  it('refuses a body over 32 MiB with 413 body_too_large', async () => {
    const t = makeTestApp();
    const huge = JSON.stringify({ sandbox: 'sb-1', path: '/f', content: 'a'.repeat(32 * 1024 * 1024) });
    const res = await t.call('/v1/files/write', huge, { method: 'POST' });
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, 'body_too_large');
  });

  it('turns an unexpected engine error into a 500 internal without leaking its message', async () => {
    const t = makeTestApp();
    t.engine.listTemplates = () => {
      throw new Error('database at /var/lib/secret-place is locked');
    };
    const res = await t.call('/v1/templates');
    assert.equal(res.status, 500);
    assert.equal(res.body.error.code, 'internal');
    assert.doesNotMatch(res.text, /secret-place|at .*\.js/);
    const requestId = res.headers.get('x-request-id');
    assert.ok(requestId);
    assert.equal(res.body.error.context.request_id, requestId);
    // The full error is logged under the same request id, for the operator.
    assert.ok(t.lines.some((l) => l.includes(requestId) && l.includes('secret-place')));
  });

  it('logs one line per request with method, route, status, duration and request id', async () => {
    const t = makeTestApp();
    await t.call('/v1/health');
    const line = JSON.parse(t.lines.at(-1) ?? '{}');
    assert.equal(line.method, 'GET');
    assert.equal(line.route, '/v1/health');
    assert.equal(line.status, 200);
    assert.equal(typeof line.duration_ms, 'number');
    assert.match(line.req_id, /^[0-9a-f]{16}$/);
  });
});
