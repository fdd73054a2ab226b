import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { create } from './create.js';
import { TEST_KEY as KEY } from './test-support/sandbox-handle.js';
import { envelope, type RecordedRequest, type StubReply, useStub } from './test-support/stub-server.js';

// The wire posture the stub server keeps for its one sandbox.
let posture: Record<string, unknown> = { egress: 'deny', inbound: 'deny' };
/** Templates the stub knows; a fork of any other is the wire's 404 until it is created. */
const templates = new Set(['python']);

function routes(req: RecordedRequest): StubReply {
  const b = (req.body ?? {}) as Record<string, unknown>;
  switch (`${req.method} ${req.url}`) {
    case 'POST /v1/templates':
      templates.add(String(b.id));
      return { json: { id: b.id, ready: true, created_at: '2026-01-01T00:00:00Z', creation_time_ms: 3 } };
    case 'POST /v1/fork':
      if (!templates.has(String(b.template)))
        return { status: 404, json: envelope('not_found', `template "${String(b.template)}" not found`) };
      return { json: { id: b.id, template_id: b.template, endpoint: 'http://x', fork_time_ms: 1.5 } };
    case 'GET /v1/sandboxes/sb-net/network':
      return { json: posture };
    case 'PUT /v1/sandboxes/sb-net/network':
      if ((b.allow_domains as string[] | undefined)?.includes('bad')) {
        return { status: 400, json: envelope('invalid_json', 'allow_domains.0: "bad" is not host:port') };
      }
      posture = { egress: b.egress ?? 'deny', inbound: b.inbound ?? 'deny', ...b };
      return { json: posture };
    default:
      return { status: 404, text: '404 page not found' };
  }
}

const stub = useStub(routes);
const opts = () => ({ baseUrl: stub.baseUrl, apiKey: KEY });

describe('network posture in the SDK', () => {
  test('create sends the posture with the fork, and with the template when it creates one', async () => {
    const network = { egress: 'deny' as const, allowDomains: ['pypi.org:443', '*.pythonhosted.org:443'] };
    const wire = { allow_domains: ['pypi.org:443', '*.pythonhosted.org:443'] };
    await create('python', { ...opts(), id: 'sb-net', network });
    assert.deepEqual(
      stub.requests.map((r) => [r.url, r.body]),
      [['/v1/fork', { template: 'python', id: 'sb-net', network: wire }]],
    );
    stub.requests.length = 0;
    await create('fresh', { ...opts(), id: 'sb-fresh', network });
    const [, tpl, fork] = stub.requests;
    assert.deepEqual(tpl?.body, { id: 'fresh', init_wait_seconds: 5, network: wire });
    assert.deepEqual(fork?.body, { template: 'fresh', id: 'sb-fresh', network: wire });
  });

  test('network() reads the effective posture; setNetwork() changes it and answers the new one', async () => {
    posture = { egress: 'deny', inbound: 'deny' };
    const sb = await create('python', { ...opts(), id: 'sb-net' });
    assert.deepEqual(await sb.network(), { egress: 'deny', inbound: 'deny' });
    const next = await sb.setNetwork({ egress: 'allow', allowCidrs: ['10.1.2.0/24:5432'], inbound: 'deny' });
    assert.deepEqual(next, { egress: 'allow', inbound: 'deny', allowCidrs: ['10.1.2.0/24:5432'] });
    assert.deepEqual(stub.requests.at(-1)?.body, { egress: 'allow', allow_cidrs: ['10.1.2.0/24:5432'] });
    await assert.rejects(sb.setNetwork({ allowDomains: ['bad'] }), /allow_domains\.0/);
  });
});
