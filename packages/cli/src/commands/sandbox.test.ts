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

describe('sandbox create network flags', () => {
  test('--egress, --allow-domain and --allow-cidr become the sandbox posture on the fork', async () => {
    const r = await cli([
      'sandbox',
      'create',
      '--id',
      'net-1',
      '--allow-domain',
      'pypi.org:443',
      '--allow-domain',
      '*.pythonhosted.org:443',
      '--allow-cidr',
      '10.1.2.0/24:5432',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((fake.seen.find((s) => s.url === '/v1/fork') as { body: { network?: unknown } }).body.network, {
      allow_domains: ['pypi.org:443', '*.pythonhosted.org:443'],
      allow_cidrs: ['10.1.2.0/24:5432'],
    });
    const open = await cli(['sandbox', 'create', '--id', 'net-2', '--egress', 'allow']);
    assert.equal(open.code, 0, open.stderr);
    assert.deepEqual(
      (fake.seen.filter((s) => s.url === '/v1/fork').at(-1) as { body: { network?: unknown } }).body.network,
      { egress: 'allow' },
    );
  });

  test('a bad --egress is a usage error without a request', async () => {
    const before = fake.seen.length;
    const r = await cli(['sandbox', 'create', '--egress', 'sideways']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /allow or deny/);
    assert.equal(fake.seen.length, before);
  });
});
