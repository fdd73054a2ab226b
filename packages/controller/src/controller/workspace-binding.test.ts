import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestS3, type TestS3 } from '@mitos/testkit';
import { ANNOTATION_WORKSPACE_DEHYDRATED, ANNOTATION_WORKSPACE_HYDRATED_HEAD, API_VERSION } from '../api/group.js';
import type { Secret } from '../api/meta.js';
import type { Workspace, WorkspaceRevision } from '../api/v1alpha1/index.js';
import { SANDBOX_CLAIMS, SECRETS, WORKSPACE_REVISIONS, WORKSPACES } from '../kube/resources.js';
import { ReconcileFixture } from '../testing/reconcile-fixture.js';
import { reconcileClaim } from './claim-reconciler.js';

/** Claims bound to Workspaces over scripted nodes, with objects in a real S3-compatible server. */
describe('claim workspace binding', { timeout: 60_000 }, () => {
  let s3: TestS3;
  before(async () => {
    s3 = await startTestS3();
  });
  after(() => s3.close());

  async function fixture() {
    const f = new ReconcileFixture();
    f.addNode('n1');
    await f.createPool('p1');
    await f.prepareTemplates();
    const b64 = (t: string) => Buffer.from(t).toString('base64');
    await f.kube.create<Secret>(SECRETS, {
      metadata: { name: 'store', namespace: 'default' },
      data: {
        accessKeyId: b64(s3.accessKeyId),
        secretAccessKey: b64(s3.secretAccessKey),
        key: b64(randomBytes(32).toString('hex')),
        short: b64('abcd'),
      },
    });
    const workspace = async (name: string, spec: Partial<Workspace['spec']> = {}) =>
      f.kube.create<Workspace>(WORKSPACES, {
        apiVersion: API_VERSION,
        kind: 'Workspace',
        metadata: { name, namespace: 'default' },
        spec: {
          store: {
            s3: { bucket: s3.bucket, endpoint: s3.endpoint, prefix: name, credentialsSecretRef: { name: 'store' } },
            encryptionKeyRef: { name: 'store', key: 'key' },
          },
          ...spec,
        },
      });
    const reason = async (name: string) =>
      (await f.claim(name))?.status?.conditions?.find((c) => c.type === 'Ready')?.reason;
    return { f, workspace, reason };
  }

  it('a claim that reaches its timeout commits /workspace; the next writer hydrates that revision', async () => {
    const { f, workspace } = await fixture();
    await workspace('ws');
    await f.createClaim('a', 'p1', { workspaceRef: { name: 'ws' }, timeout: '1m' });
    await reconcileClaim(f.ctx, 'default', 'a');
    const a = await f.claim('a');
    assert.equal(a?.status?.phase, 'Ready');
    assert.equal(a?.metadata.annotations?.[ANNOTATION_WORKSPACE_HYDRATED_HEAD], '');
    const engine = f.nodes.get('n1')?.engine;
    await engine?.files.write(
      a?.status?.sandboxID ?? '',
      '/workspace/out/result.txt',
      Buffer.from('answer-7d1c-forty-two'),
    );

    f.clock += 61_000;
    await reconcileClaim(f.ctx, 'default', 'a');
    const done = await f.claim('a');
    assert.equal(done?.status?.phase, 'Terminated');
    const revision = done?.metadata.annotations?.[ANNOTATION_WORKSPACE_DEHYDRATED] ?? '';
    const rev = await f.kube.get<WorkspaceRevision>(WORKSPACE_REVISIONS, 'default', revision);
    assert.equal(rev?.spec.source?.fromClaim, 'a');
    assert.match(rev?.spec.contentManifest ?? '', /^[0-9a-f]{64}$/);
    assert.equal(s3.holds('answer-7d1c-forty-two'), false, 'objects are sealed');

    await f.createClaim('b', 'p1', { workspaceRef: { name: 'ws' } });
    await reconcileClaim(f.ctx, 'default', 'b');
    const b = await f.claim('b');
    assert.equal(b?.status?.phase, 'Ready');
    assert.equal(b?.metadata.annotations?.[ANNOTATION_WORKSPACE_HYDRATED_HEAD], revision);
    const read = await engine?.files.read(b?.status?.sandboxID ?? '', '/workspace/out/result.txt');
    assert.equal(read?.toString(), 'answer-7d1c-forty-two');
  });

  it('one writer: a later claim waits with WorkspaceBusy and gets no sandbox until the writer is gone', async () => {
    const { f, workspace, reason } = await fixture();
    await workspace('solo');
    await f.createClaim('first', 'p1', { workspaceRef: { name: 'solo' } });
    await f.createClaim('second', 'p1', { workspaceRef: { name: 'solo' } });
    await reconcileClaim(f.ctx, 'default', 'first');
    await reconcileClaim(f.ctx, 'default', 'second');
    assert.equal(await reason('second'), 'WorkspaceBusy');
    assert.equal(f.nodes.get('n1')?.engine.ids().length, 1);
    await f.kube.delete(SANDBOX_CLAIMS, 'default', 'first');
    await reconcileClaim(f.ctx, 'default', 'first');
    assert.equal(await f.claim('first'), undefined);
    await reconcileClaim(f.ctx, 'default', 'second');
    assert.equal((await f.claim('second'))?.status?.phase, 'Ready');
  });

  it('grants: no grant fails the claim; a readonly one hydrates, never commits and never blocks', async () => {
    const { f, workspace, reason } = await fixture();
    await workspace('shared', { grants: [{ serviceAccount: 'reader', access: 'readonly' }] });
    await f.createClaim('nobody', 'p1', { workspaceRef: { name: 'shared' } });
    await reconcileClaim(f.ctx, 'default', 'nobody');
    assert.equal(await reason('nobody'), 'WorkspaceAccessDenied');
    for (const name of ['r1', 'r2']) {
      await f.createClaim(name, 'p1', { workspaceRef: { name: 'shared' }, serviceAccount: 'reader' });
      await reconcileClaim(f.ctx, 'default', name);
      assert.equal((await f.claim(name))?.status?.phase, 'Ready', name);
    }
    const r1 = await f.claim('r1');
    await f.nodes.get('n1')?.engine.files.write(r1?.status?.sandboxID ?? '', '/workspace/x', Buffer.from('x'));
    await f.kube.delete(SANDBOX_CLAIMS, 'default', 'r1');
    await reconcileClaim(f.ctx, 'default', 'r1');
    assert.equal((await f.kube.list(WORKSPACE_REVISIONS, 'default')).items.length, 0);
  });

  it('refuses what it cannot bind, and waits for what is missing, without taking a sandbox', async () => {
    const { f, workspace, reason } = await fixture();
    await workspace('other-store', { store: { objectStorageRef: 'minio' } });
    await workspace('no-store', { store: undefined });
    await workspace('no-creds', { store: { s3: { bucket: 'b' } } });
    await workspace('bad-key', {
      store: {
        s3: { bucket: 'b', endpoint: s3.endpoint, credentialsSecretRef: { name: 'store' } },
        encryptionKeyRef: { name: 'store', key: 'short' },
      },
    });
    await workspace('git', { git: { paths: ['repo'] } });
    await workspace('lost-secret', { store: { s3: { bucket: 'b', credentialsSecretRef: { name: 'gone' } } } });
    const cases: Array<[string, string, string]> = [
      ['other-store', 'StoreUnsupported', 'Failed'],
      ['no-store', 'WorkspaceStoreRequired', 'Failed'],
      ['no-creds', 'StoreCredentialsRequired', 'Failed'],
      ['bad-key', 'InvalidEncryptionKey', 'Failed'],
      ['git', 'GitPushUnsupported', 'Failed'],
      ['lost-secret', 'SecretNotFound', 'Pending'],
      ['missing', 'WorkspaceNotFound', 'Pending'],
    ];
    for (const [ws, why, phase] of cases) {
      await f.createClaim(`c-${ws}`, 'p1', { workspaceRef: { name: ws } });
      await reconcileClaim(f.ctx, 'default', `c-${ws}`);
      assert.equal(await reason(`c-${ws}`), why, ws);
      assert.equal((await f.claim(`c-${ws}`))?.status?.phase, phase, ws);
    }
    assert.equal(f.nodes.get('n1')?.engine.ids().length, 0);
    // No condition message carries a credential or the key.
    const all = JSON.stringify((await f.kube.list(SANDBOX_CLAIMS, 'default')).items);
    assert.equal(all.includes(s3.secretAccessKey), false);
  });
});
