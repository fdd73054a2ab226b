import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AgentRun } from './agent-run.js';
import { type ClusterApi, ClusterApiError, type KubeObjectLike, type MitosPlural } from './api.js';

/** Objects in a map; enough to check what the SDK writes and how it reads status. */
function memoryApi(): ClusterApi & {
  store: Map<string, KubeObjectLike>;
  secrets: Map<string, Record<string, string>>;
} {
  const store = new Map<string, KubeObjectLike>();
  const secrets = new Map<string, Record<string, string>>();
  const k = (plural: MitosPlural, name: string) => `${plural}/${name}`;
  return {
    namespace: 'team-a',
    store,
    secrets,
    async get(plural, name) {
      return store.get(k(plural, name));
    },
    async create(plural, body) {
      const key = k(plural, body.metadata.name ?? '');
      if (store.has(key)) throw new ClusterApiError(409, 'exists');
      store.set(key, structuredClone(body));
      return body;
    },
    async patch(plural, name, patch) {
      const current = store.get(k(plural, name));
      if (!current) throw new ClusterApiError(404, 'missing');
      Object.assign(current.metadata, (patch as KubeObjectLike).metadata ?? {});
      return current;
    },
    async delete(plural, name) {
      return store.delete(k(plural, name));
    },
    async list(plural) {
      return [...store.entries()].filter(([key]) => key.startsWith(`${plural}/`)).map(([, v]) => v);
    },
    async readSecret(name) {
      return secrets.get(name);
    },
  };
}

describe('AgentRun (cluster mode)', () => {
  it('creates the default template and pool with the documented shapes, then a claim', async () => {
    const api = memoryApi();
    const sb = await new AgentRun({ api }).sandbox('python');
    assert.deepEqual(api.store.get('sandboxtemplates/mitos-default-python'), {
      apiVersion: 'mitos.run/v1alpha1',
      kind: 'SandboxTemplate',
      metadata: { name: 'mitos-default-python', namespace: 'team-a' },
      spec: { image: 'python' },
    });
    assert.deepEqual(api.store.get('sandboxpools/mitos-default-python')?.spec, {
      templateRef: { name: 'mitos-default-python' },
      replicas: 1,
    });
    assert.match(sb.name, /^sandbox-[0-9a-f]{8}$/);
    assert.deepEqual(api.store.get(`sandboxclaims/${sb.name}`)?.spec, { poolRef: { name: 'mitos-default-python' } });
    assert.equal(sb.ready, false);
  });

  it('refuses a default pool whose template runs another image', async () => {
    const api = memoryApi();
    await new AgentRun({ api }).sandbox('python');
    api.store.get('sandboxtemplates/mitos-default-python')!.spec = { image: 'Python' };
    await assert.rejects(new AgentRun({ api }).sandbox('python'), { code: 'pool_image_mismatch' });
  });

  it('never creates anything when default pools are disabled or a pool is named', async () => {
    const api = memoryApi();
    await assert.rejects(new AgentRun({ api, allowDefaultPool: false }).sandbox('python'), { code: 'no_default_pool' });
    await assert.rejects(new AgentRun({ api }).sandbox(), { code: 'missing_image_or_pool' });
    await new AgentRun({ api }).sandbox(undefined, { pool: 'mine', name: 'n1', env: { A: 'b' }, timeout: '30m' });
    assert.deepEqual([...api.store.keys()], ['sandboxclaims/n1']);
    assert.deepEqual(api.store.get('sandboxclaims/n1')?.spec, {
      poolRef: { name: 'mine' },
      env: [{ name: 'A', value: 'b' }],
      timeout: '30m',
    });
  });

  it('waits for Ready with an endpoint, and reports Failed and timeouts with stable codes', async () => {
    const api = memoryApi();
    const run = new AgentRun({ api });
    const sb = await run.create('p', { name: 'c1' });
    const claim = api.store.get('sandboxclaims/c1')!;
    setTimeout(() => {
      claim.status = { phase: 'Ready', endpoint: '10.1.2.3:9091', sandboxID: 'warm-1', node: 'n1' };
    }, 120);
    api.secrets.set('c1-sandbox-token', { token: 'a'.repeat(64) });
    await sb.waitUntilReady({ timeoutMs: 5_000 });
    assert.deepEqual(sb.toJSON(), { name: 'c1', pool: 'p', endpoint: '10.1.2.3:9091', sandboxId: 'warm-1' });
    assert.equal(sb.direct.baseUrl, 'http://10.1.2.3:9091');
    assert.ok(!JSON.stringify(sb).includes('a'.repeat(64)));

    const failed = await run.create('p', { name: 'c2' });
    api.store.get('sandboxclaims/c2')!.status = {
      phase: 'Failed',
      conditions: [{ type: 'Ready', reason: 'NodeLost', message: 'gone' }],
    };
    await assert.rejects(failed.waitUntilReady({ timeoutMs: 1_000 }), { code: 'sandbox_failed' });
    const slow = await run.create('p', { name: 'c3' });
    await assert.rejects(slow.waitUntilReady({ timeoutMs: 150 }), { code: 'ready_timeout' });
    assert.throws(() => slow.files, { code: 'sandbox_not_ready' });
  });

  it('terminate deletes the claim and does not wait', async () => {
    const api = memoryApi();
    const sb = await new AgentRun({ api }).create('p', { name: 'c1' });
    await sb.terminate();
    assert.equal(api.store.has('sandboxclaims/c1'), false);
    await sb.terminate();
  });

  it('fork children are claims: the fork shape of crd-v1.md 9.5, then terminate and info go to the child claim', async () => {
    const api = memoryApi();
    const ready = { phase: 'Ready', endpoint: '10.0.0.1:9091', node: 'n1', sandboxID: 'src' };
    await api.create('sandboxclaims', { metadata: { name: 'src' }, spec: { poolRef: { name: 'p' } }, status: ready });
    const sb = await new AgentRun({ api }).fromName('src');
    const pending = sb.fork(2, { timeoutMs: 5_000 });
    let fork: KubeObjectLike | undefined;
    while (!fork) {
      await new Promise((r) => setTimeout(r, 10));
      fork = (await api.list('sandboxforks'))[0];
    }
    const name = fork.metadata.name ?? '';
    assert.match(name, /^src-fork-[0-9a-f]{6}$/);
    assert.deepEqual(fork.spec, { sourceRef: { name: 'src' }, replicas: 2, pauseSource: false });
    const children = [0, 1].map((i) => ({ ...ready, name: `${name}-fork-${i}`, sandboxID: `${name}-fork-${i}` }));
    for (const c of children) {
      await api.create('sandboxclaims', { metadata: { name: c.name }, spec: { poolRef: { name: 'p' } }, status: c });
    }
    fork.status = { forks: children };
    const [a, b] = await pending;
    assert.equal((await a?.info())?.sandboxId, children[0]?.sandboxID);
    await a?.terminate();
    assert.equal(api.store.has(`sandboxclaims/${children[0]?.name}`), false);
    assert.equal(api.store.has(`sandboxclaims/${children[1]?.name}`), true, 'the sibling is untouched');
    assert.equal(api.store.has(`sandboxforks/${name}`), true, 'the SDK never writes the fork');
    assert.equal(await b?.fork(1, { timeoutMs: 50 }).catch((e: { code?: string }) => e.code), 'ready_timeout');
  });

  it('a fork its source node cannot hold times out naming the refusal (SourceNodeFull), not a bare timeout', async () => {
    const api = memoryApi();
    const ready = { phase: 'Ready', endpoint: '10.0.0.1:9091', node: 'n1', sandboxID: 'src' };
    await api.create('sandboxclaims', { metadata: { name: 'src' }, spec: { poolRef: { name: 'p' } }, status: ready });
    const sb = await new AgentRun({ api }).fromName('src');
    // The controller's refusal is on the fork from its first read (no race with the SDK's poll).
    const message = 'node n1 has no room for a fork of src (cross-node fork is not supported)';
    const create = api.create.bind(api);
    api.create = (plural, object) =>
      create(plural, {
        ...object,
        ...(plural === 'sandboxforks' && {
          status: { conditions: [{ type: 'Ready', status: 'False', reason: 'SourceNodeFull', message }] },
        }),
      });
    const err = await sb.fork(1, { timeoutMs: 100 }).then(
      () => assert.fail('the fork cannot be Ready'),
      (e: { code?: string; errorCause?: string }) => e,
    );
    assert.equal(err.code, 'ready_timeout');
    assert.equal(err.errorCause, `SourceNodeFull: ${message}`);
  });
});
