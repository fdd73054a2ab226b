import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createScriptedEngine } from '../testing/scripted-engine.js';
import { createControlApi } from './control-api.js';
import { digestHex, SandboxLedger } from './ledger.js';
import { NodeSandboxes } from './node-sandboxes.js';

const KEY = 'node-key-0123456789abcdef';
const TOKEN = 'cd'.repeat(32);

async function setup() {
  const engine = createScriptedEngine();
  const sandboxes = new NodeSandboxes(engine, SandboxLedger.open(undefined), 4);
  sandboxes.prepareTemplate('python');
  await new Promise((r) => setImmediate(r));
  const { app } = createControlApi({ sandboxes, nodeName: 'n1', nodeKey: KEY });
  const call = async (method: string, path: string, body?: unknown, key: string | null = KEY) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (key !== null) headers.authorization = `Bearer ${key}`;
    const res = await app.request(path, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
    const text = await res.text();
    return {
      status: res.status,
      body: (text.startsWith('{') ? JSON.parse(text) : { text }) as Record<string, unknown>,
    };
  };
  return { engine, sandboxes, call };
}

const acquire = { namespace: 'ns', pool: 'p', claim: 'c1', image: 'python', token: TOKEN };

describe('node control API', () => {
  it('refuses every call without the node key; /healthz is open', async () => {
    const { call } = await setup();
    for (const key of [null, '', 'wrong', `${KEY}x`]) {
      assert.equal((await call('GET', '/node/v1/capacity', undefined, key)).status, 401, String(key));
    }
    assert.equal((await call('POST', '/node/v1/claims', acquire, 'wrong')).status, 401);
    assert.equal((await call('GET', '/healthz', undefined, null)).status, 200);
  });

  it('refuses to start with a short key', () => {
    const sandboxes = new NodeSandboxes(createScriptedEngine(), SandboxLedger.open(undefined), 1);
    assert.throws(() => createControlApi({ sandboxes, nodeName: 'n', nodeKey: 'short' }));
  });

  it('acquires idempotently: the same claim gets the same sandbox, with the latest token', async () => {
    const { call, sandboxes } = await setup();
    const first = await call('POST', '/node/v1/claims', acquire);
    assert.equal(first.status, 200);
    const again = await call('POST', '/node/v1/claims', { ...acquire, token: 'ef'.repeat(32) });
    assert.equal(again.body.sandboxId, first.body.sandboxId);
    assert.equal(sandboxes.list().length, 1);
  });

  it('hands over a warm sandbox once, never to two claims', async () => {
    const { call } = await setup();
    const warm = await call('POST', '/node/v1/warm', { namespace: 'ns', pool: 'p', image: 'python', count: 1 });
    const [id] = warm.body.created as string[];
    const a = await call('POST', '/node/v1/claims', acquire);
    const b = await call('POST', '/node/v1/claims', { ...acquire, claim: 'c2' });
    assert.equal(a.body.sandboxId, id);
    assert.equal(a.body.warm, true);
    assert.notEqual(b.body.sandboxId, id);
  });

  it('maps refusals to status codes: bad input 400, unknown source 404, full node 503 capacity_exhausted, building template 503', async () => {
    const { call } = await setup();
    assert.equal((await call('POST', '/node/v1/claims', { ...acquire, token: 'short' })).status, 400);
    const fork = { namespace: 'ns', fork: 'f', source: 'nope', children: [{ id: 'f-0', token: TOKEN }] };
    assert.equal((await call('POST', '/node/v1/forks', fork)).status, 404);
    const building = await call('POST', '/node/v1/claims', { ...acquire, image: 'node' });
    assert.equal(building.status, 503);
    // The protocol's envelope: a catalogue code, its remediation, the reason as the cause.
    const error = building.body.error as Record<string, unknown>;
    assert.equal(error.code, 'template_not_ready');
    assert.equal(typeof error.remediation, 'string');
    assert.match(String(error.cause), /template for node is building/);
    await call('POST', '/node/v1/warm', { namespace: 'ns', pool: 'p', image: 'python', count: 4 });
    assert.equal(
      (
        await call('POST', '/node/v1/warm', { namespace: 'ns', pool: 'q', image: 'python', count: 1 })
      ).body.created?.toString(),
      '',
    );
    const full = await call('POST', '/node/v1/claims', { ...acquire, pool: 'other' });
    assert.equal(full.status, 503);
    assert.equal((full.body.error as Record<string, unknown>).code, 'capacity_exhausted');
  });

  it('forks children of a claimed sandbox and terminates them', async () => {
    const { call, engine, sandboxes } = await setup();
    const src = await call('POST', '/node/v1/claims', acquire);
    const fork = {
      namespace: 'ns',
      fork: 'f',
      source: src.body.sandboxId,
      children: [
        { id: 'f-fork-0', token: TOKEN },
        { id: 'f-fork-1', token: TOKEN },
      ],
    };
    const made = await call('POST', '/node/v1/forks', fork);
    assert.equal(made.status, 200);
    assert.deepEqual(engine.ids().sort(), [src.body.sandboxId, 'f-fork-0', 'f-fork-1'].sort());
    assert.equal((await call('POST', '/node/v1/forks', fork)).status, 200, 'idempotent');
    // Another namespace: it cannot fork this one's sandbox, nor re-key (take over) a child of a
    // fork that has the same name as one of its own.
    const other = await call('POST', '/node/v1/claims', { ...acquire, namespace: 'other-tenant', claim: 'c2' });
    const theirs = { ...fork, namespace: 'other-tenant', children: [{ id: 'o-fork-0', token: 'ee'.repeat(32) }] };
    assert.equal((await call('POST', '/node/v1/forks', theirs)).status, 404);
    const sameName = {
      ...theirs,
      source: other.body.sandboxId,
      children: [{ id: 'f-fork-0', token: 'ee'.repeat(32) }],
    };
    assert.equal((await call('POST', '/node/v1/forks', sameName)).status, 409);
    const child = sandboxes.list().find((e) => e.id === 'f-fork-0');
    assert.equal(child?.tokenDigest, digestHex(TOKEN), 'the child keeps its own token');
    assert.equal(child?.owner.namespace, 'ns');
    const across = await call('DELETE', '/node/v1/sandboxes/f-fork-0?namespace=other-tenant');
    assert.equal(across.body.terminated, false, "another namespace's cleanup leaves it alone");
    assert.ok(engine.ids().includes('f-fork-0'));
    assert.equal((await call('DELETE', '/node/v1/sandboxes/f-fork-0')).body.terminated, true);
    assert.equal((await call('DELETE', '/node/v1/sandboxes/f-fork-0')).body.terminated, false);
  });

  it('workspace hydrate and capture: only the claim sandbox of the namespace asking, only inside /workspace', async () => {
    const { call } = await setup();
    const { body } = await call('POST', '/node/v1/claims', acquire);
    const id = String(body.sandboxId);
    // Port 9 on loopback: nothing listens, so a call that got as far as the store would fail there.
    const store = {
      s3: { bucket: 'b', endpoint: 'http://127.0.0.1:9', accessKeyId: 'AK', secretAccessKey: 'secret-9f3' },
    };
    const paths = `/node/v1/sandboxes/${id}/workspace`;
    const other = await call('POST', `${paths}/capture`, { namespace: 'other', store });
    assert.equal(other.status, 404);
    assert.equal((await call('POST', `${paths}/hydrate`, { namespace: 'other', store, manifest: null })).status, 404);
    assert.equal(
      (await call('POST', '/node/v1/sandboxes/nope/workspace/capture', { namespace: 'ns', store })).status,
      404,
    );
    for (const bad of ['/etc', '../x', '/workspace/../etc', 'a/../../b']) {
      const r = await call('POST', `${paths}/capture`, { namespace: 'ns', store, paths: [bad] });
      assert.equal(r.status, 400, bad);
      assert.equal(JSON.stringify(r.body).includes('secret-9f3'), false);
    }
    const badDigest = await call('POST', `${paths}/hydrate`, { namespace: 'ns', store, manifest: '../x' });
    assert.equal(badDigest.status, 400);
    // A store that cannot be reached is an error naming the store, never its credentials.
    const down = await call('POST', `${paths}/capture`, { namespace: 'ns', store });
    assert.ok(down.status >= 500, JSON.stringify(down.body));
    assert.equal(JSON.stringify(down.body).includes('secret-9f3'), false);
  });
});
