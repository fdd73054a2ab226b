import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useFakeServer } from '../test-support/fake-server.js';

const { fake, cli } = useFakeServer({ prefix: 'mitos-cli-sandbox-', sandboxes: { 'sb-1': 'python' } });
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('sandbox exec --stream', () => {
  test('uses /v1/exec/stream, relays both streams and the exit status', async () => {
    fake.override = (req) =>
      req.url === '/v1/exec/stream'
        ? {
            ndjson: [
              { stream: 'stdout', data: b64('one\n') },
              { stream: 'stderr', data: b64('two\n') },
              { exit_code: 4, exec_time_ms: 3, error: '' },
            ],
          }
        : undefined;
    const r = await cli(['sandbox', 'exec', '--stream', 'sb-1', '--', 'make']);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stdout, 'one\n');
    assert.equal(r.stderr, 'two\n');
    assert.deepEqual(fake.seen.find((s) => s.url === '/v1/exec/stream')?.body, {
      sandbox: 'sb-1',
      command: 'make',
      timeout: 30,
    });
  });
});

describe('sandbox lifecycle and processes', () => {
  test('set-timeout above 86400 is refused without a request (exit 2)', async () => {
    const r = await cli(['sandbox', 'set-timeout', 'sb-1', '86401']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /timeout_too_large/);
    assert.equal(
      fake.seen.some((s) => s.url === '/v1/set_timeout'),
      false,
    );
  });

  test('kill of an unknown pid exits 3', async () => {
    fake.override = (req) =>
      req.url === '/v1/processes/signal'
        ? { status: 404, json: { error: { code: 'not_found', message: 'm', remediation: 'r' } } }
        : undefined;
    const r = await cli(['sandbox', 'kill', 'sb-1', '77', '--signal', 'TERM']);
    assert.equal(r.code, 3);
    assert.deepEqual(fake.seen.find((s) => s.url === '/v1/processes/signal')?.body, {
      sandbox: 'sb-1',
      pid: 77,
      signal: 15,
    });
  });
});
