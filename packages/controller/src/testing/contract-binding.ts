/**
 * Contract steps for a claim bound to a Workspace (crd-v1.md 9.1 `workspace=`, 9.7 terminate
 * with outputs, 10.2.6), with the seed SDK's object shapes: hydrate on Ready, capture on
 * terminate into a WorkspaceRevision with a diff summary, one writer at a time, objects in an
 * S3-compatible bucket (a real server started here on 127.0.0.1) sealed with the Workspace's key.
 * @module
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestS3 } from '@mitos/testkit';
import { ANNOTATION_WORKSPACE_DEHYDRATED, LABEL_FROM_CLAIM_UID } from '../api/group.js';
import type { Secret } from '../api/meta.js';
import type { SandboxClaim, Workspace, WorkspaceRevision } from '../api/v1alpha1/index.js';
import { SANDBOX_CLAIMS, SECRETS, WORKSPACE_REVISIONS, WORKSPACES } from '../kube/resources.js';
import type { ClusterEnv, ContractTest } from './contract.js';
import { eventually } from './contract-steps.js';
import { createWorkspace } from './contract-workspaces.js';
import { SeedClient } from './seed-client.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');

async function claimReason(e: ClusterEnv, name: string): Promise<string | undefined> {
  const claim = await e.kube.get<SandboxClaim>(SANDBOX_CLAIMS, e.namespace, name);
  return claim?.status?.conditions?.find((c) => c.type === 'Ready')?.reason;
}

export function bindingSteps(test: ContractTest): void {
  test('a bound claim hydrates the head, commits on terminate with a diff, one writer at a time, sealed in S3', async (e) => {
    const s3 = await startTestS3();
    try {
      await e.kube.create<Secret>(SECRETS, {
        metadata: { name: 'ws-store', namespace: e.namespace },
        data: {
          accessKeyId: b64(s3.accessKeyId),
          secretAccessKey: b64(s3.secretAccessKey),
          key: b64(randomBytes(32).toString('hex')),
        },
      });
      await createWorkspace(e, 'ws-bound', {
        store: {
          s3: { bucket: s3.bucket, endpoint: s3.endpoint, credentialsSecretRef: { name: 'ws-store' } },
          encryptionKeyRef: { name: 'ws-store', key: 'key' },
        },
      });
      const seed = new SeedClient(e.userKube, e.namespace);
      const pool = await seed.ensureDefaultPool('python', 'python');
      const first = await seed.sandbox(pool, e.readyTimeoutMs, 'ws-bound');
      await seed.writeFile(first, '/workspace/notes.md', 'kept across sandboxes');

      // A second writer waits its turn instead of getting a sandbox.
      const second = await seed.create(pool, 'ws-bound');
      await eventually(e.settleMs, async () => (await claimReason(e, second.name)) === 'WorkspaceBusy');

      const firstClaim = await e.kube.get<SandboxClaim>(SANDBOX_CLAIMS, e.namespace, first.name);
      assert.equal(await seed.terminate(first, [{ diff: true }]), 'ws-bound');
      // The finalizer goes after the capture, its revision and that revision's diff summary.
      await eventually(e.settleMs, async () => !(await e.kube.get(SANDBOX_CLAIMS, e.namespace, first.name)));
      await eventually(e.settleMs, async () => {
        const ws = await e.kube.get<Workspace>(WORKSPACES, e.namespace, 'ws-bound');
        return ws?.status?.revisions === 1 && ws.status.head !== undefined;
      });
      const ws = await e.kube.get<Workspace>(WORKSPACES, e.namespace, 'ws-bound');
      const head = await e.kube.get<WorkspaceRevision>(WORKSPACE_REVISIONS, e.namespace, ws?.status?.head ?? '');
      assert.equal(head?.spec.source?.fromClaim, first.name);
      assert.match(head?.spec.contentManifest ?? '', /^[0-9a-f]{64}$/);
      assert.equal(head?.metadata.labels?.[LABEL_FROM_CLAIM_UID], firstClaim?.metadata.uid);
      assert.equal(head?.status?.phase, 'Committed');
      assert.deepEqual(head?.status?.diffSummary?.added, ['notes.md']);
      assert.equal(head?.status?.diffSummary?.addedCount, 1);
      // Objects are sealed with the Workspace's key: no plaintext in the bucket.
      assert.equal(s3.holds('kept across sandboxes'), false);

      // Its turn now: the second claim becomes Ready with the head in /workspace.
      const ready = await seed.waitUntilReady(second, e.readyTimeoutMs);
      assert.equal(await seed.readFile(ready, '/workspace/notes.md'), 'kept across sandboxes');
      await seed.terminate(ready);
      await eventually(e.settleMs, async () => !(await e.kube.get(SANDBOX_CLAIMS, e.namespace, second.name)));
      // Nothing changed: no second revision.
      assert.equal((await e.kube.get<Workspace>(WORKSPACES, e.namespace, 'ws-bound'))?.status?.revisions, 1);
    } finally {
      await s3.close();
    }
  });

  test('a Workspace a cluster cannot bind (no store.s3) fails the claim with a reason, no sandbox made', async (e) => {
    await createWorkspace(e, 'ws-nostore');
    const seed = new SeedClient(e.userKube, e.namespace);
    const pool = await seed.ensureDefaultPool('python', 'python');
    const claim = await seed.create(pool, 'ws-nostore');
    await eventually(e.settleMs, async () => (await claimReason(e, claim.name)) === 'WorkspaceStoreRequired');
    const failed = await e.kube.get<SandboxClaim>(SANDBOX_CLAIMS, e.namespace, claim.name);
    assert.equal(failed?.status?.phase, 'Failed');
    assert.equal(failed?.status?.sandboxID, undefined);
    assert.equal(failed?.metadata.annotations?.[ANNOTATION_WORKSPACE_DEHYDRATED], undefined);
    await seed.terminate(claim);
  });
}
