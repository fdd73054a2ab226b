import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Secret } from '../api/meta.js';
import type { SandboxClaim } from '../api/v1alpha1/index.js';
import { SANDBOX_CLAIMS, SECRETS } from '../kube/resources.js';
import { withClaimEnv } from '../node/claim-env.js';
import { ReconcileFixture } from '../testing/reconcile-fixture.js';
import { reconcileClaim } from './claim-reconciler.js';

async function fixture() {
  const f = new ReconcileFixture();
  f.addNode('n1');
  await f.createPool('p1');
  await f.prepareTemplates();
  await f.kube.create<Secret>(SECRETS, {
    metadata: { name: 'api', namespace: 'default' },
    data: { token: Buffer.from('s3cr3t-value').toString('base64'), cert: Buffer.from('CERT').toString('base64') },
  });
  return f;
}

const claimOf = (f: ReconcileFixture, name: string) => f.kube.get<SandboxClaim>(SANDBOX_CLAIMS, 'default', name);

describe('claim env and secrets', () => {
  it('delivers env and secrets (as env and as a 0400 file) into the sandbox, and no value reaches the status', async () => {
    const f = await fixture();
    const lines: string[] = [];
    const capture = (fields: Record<string, unknown>, msg: string) => void lines.push(JSON.stringify({ fields, msg }));
    f.ctx.log = { info: capture, warn: capture, error: capture };
    await f.createClaim('c1', 'p1', {
      env: [{ name: 'MODE', value: 'fast' }],
      secrets: [
        { name: 'TOKEN', secretRef: { name: 'api', key: 'token' } },
        { name: 'cert', secretRef: { name: 'api', key: 'cert' }, mountPath: '/run/secrets/cert.pem' },
      ],
    });
    await reconcileClaim(f.ctx, 'default', 'c1');
    const claim = await claimOf(f, 'c1');
    assert.equal(claim?.status?.phase, 'Ready');
    assert.equal(JSON.stringify(claim).includes('s3cr3t-value'), false);
    const node = f.nodes.get('n1');
    assert.ok(node);
    const id = claim?.status?.sandboxID ?? '';
    assert.deepEqual(node.sandboxes.claimEnv.envOf(id), { MODE: 'fast', TOKEN: 's3cr3t-value' });
    assert.equal((await node.engine.files.read(id, '/run/secrets/cert.pem')).toString(), 'CERT');
    // The node's sandbox API runs commands with the claim env underneath the request's.
    const seen: Array<Record<string, string> | undefined> = [];
    const served = withClaimEnv(
      { ...node.engine, exec: async (_id: string, o: { env?: Record<string, string> }) => seen.push(o.env) } as never,
      node.sandboxes.claimEnv,
    );
    await served.exec(id, { command: 'env', timeoutMs: 1000, env: { MODE: 'slow' } });
    assert.deepEqual(seen[0], { MODE: 'slow', TOKEN: 's3cr3t-value' });
    assert.equal(
      lines.some((l) => l.includes('s3cr3t-value')),
      false,
    );
  });

  it('waits with SecretNotFound for a missing secret, and skips an optional one', async () => {
    const f = await fixture();
    await f.createClaim('c2', 'p1', { secrets: [{ name: 'X', secretRef: { name: 'nope', key: 'k' } }] });
    const r = await reconcileClaim(f.ctx, 'default', 'c2');
    assert.equal(r.requeueAfterMs, 5_000);
    const claim = await claimOf(f, 'c2');
    assert.equal(claim?.status?.phase, 'Pending');
    assert.equal(claim?.status?.conditions?.[0]?.reason, 'SecretNotFound');
    await f.createClaim('c3', 'p1', {
      secrets: [{ name: 'X', secretRef: { name: 'nope', key: 'k', optional: true } }],
    });
    await reconcileClaim(f.ctx, 'default', 'c3');
    assert.equal((await claimOf(f, 'c3'))?.status?.phase, 'Ready');
  });

  it('refuses what it cannot carry out: volumeOverrides, git outputs, env valueFrom, a bad idleTimeout', async () => {
    const f = await fixture();
    const cases: Array<[Partial<SandboxClaim['spec']>, string]> = [
      [{ idleTimeout: 'soon' }, 'InvalidIdleTimeout'],
      [{ volumeOverrides: [{ name: 'data', policy: 'fresh' } as never] }, 'VolumeOverridesUnsupported'],
      [{ outputs: [{ git: { remote: 'https://example.invalid/repo.git' } }] }, 'GitPushUnsupported'],
      [{ env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 'api', key: 'token' } } }] }, 'EnvValueFromUnsupported'],
    ];
    for (const [i, [spec, reason]] of cases.entries()) {
      await f.createClaim(`r${i}`, 'p1', spec);
      await reconcileClaim(f.ctx, 'default', `r${i}`);
      const claim = await claimOf(f, `r${i}`);
      assert.equal(claim?.status?.phase, 'Failed', reason);
      assert.equal(claim?.status?.conditions?.[0]?.reason, reason);
    }
    assert.equal(f.nodes.get('n1')?.engine.ids().length, 0, 'no sandbox was made for a refused claim');
  });

  it('terminates a Ready claim after idleTimeout without activity; activity through the sandbox API resets it', async () => {
    const f = await fixture();
    await f.createClaim('idle', 'p1', { idleTimeout: '10s' });
    await reconcileClaim(f.ctx, 'default', 'idle');
    const ready = await claimOf(f, 'idle');
    assert.equal(ready?.status?.phase, 'Ready');
    const id = ready?.status?.sandboxID ?? '';
    const node = f.nodes.get('n1');
    assert.ok(node);
    const r = await reconcileClaim(f.ctx, 'default', 'idle');
    // The node stamps activity with its own clock; the fixture's clock is a little behind it.
    assert.ok((r.requeueAfterMs ?? 0) <= 11_000);
    // A call through the sandbox API 8 s in keeps it alive at 12 s.
    f.clock += 8_000;
    node.sandboxes.claimEnv.touch(id);
    const touchedAt = Date.now();
    f.clock = touchedAt + 4_000;
    await reconcileClaim(f.ctx, 'default', 'idle');
    assert.equal((await claimOf(f, 'idle'))?.status?.phase, 'Ready');
    f.clock = touchedAt + 10_001;
    await reconcileClaim(f.ctx, 'default', 'idle');
    const done = await claimOf(f, 'idle');
    assert.equal(done?.status?.phase, 'Terminated');
    assert.equal(done?.status?.conditions?.find((c) => c.type === 'Terminated')?.reason, 'IdleTimeout');
    assert.equal(node.engine.ids().includes(id), false, 'the sandbox was released');
  });
});
