/**
 * Contract steps for Workspace and WorkspaceRevision (crd-v1.md 7, 9.8, 10.4), written with the
 * exact objects the seed SDK creates (`create_workspace`, terminate's revision, `fork`), by the
 * SDK user's identity, and checked on what the controller writes back.
 * @module
 */
import assert from 'node:assert/strict';
import { API_VERSION, LABEL_WORKSPACE } from '../api/group.js';
import type { Workspace, WorkspaceRevision } from '../api/v1alpha1/index.js';
import { WORKSPACE_REVISIONS, WORKSPACES } from '../kube/resources.js';
import type { ClusterEnv, ContractTest } from './contract.js';
import { eventually } from './contract-steps.js';

const DIGEST_A = 'a'.repeat(64);
const DIGEST_B = 'b'.repeat(64);

/** A revision as terminate would make it (`generateName: <ws>-`, fromClaim) or as the SDK's fork does. */
function revision(
  e: ClusterEnv,
  workspace: string,
  spec: Partial<WorkspaceRevision['spec']>,
  name?: string,
): WorkspaceRevision {
  return {
    apiVersion: API_VERSION,
    kind: 'WorkspaceRevision',
    metadata: {
      ...(name ? { name } : { generateName: `${workspace}-` }),
      namespace: e.namespace,
      labels: { [LABEL_WORKSPACE]: workspace },
    },
    spec: { workspaceRef: { name: workspace }, ...spec },
  };
}

/** A Workspace as the seed SDK's `create_workspace` writes it, by the SDK user's identity. */
export function createWorkspace(e: ClusterEnv, name: string, spec: Workspace['spec'] = {}): Promise<Workspace> {
  return e.userKube.create<Workspace>(WORKSPACES, {
    apiVersion: API_VERSION,
    kind: 'Workspace',
    metadata: { name, namespace: e.namespace },
    spec,
  });
}

async function workspaceStatus(e: ClusterEnv, name: string) {
  return (await e.kube.get<Workspace>(WORKSPACES, e.namespace, name))?.status;
}

export function workspaceSteps(test: ContractTest): void {
  test('a Workspace with committed revisions gets head, count and Ready; a bad digest stays Pending', async (e) => {
    await createWorkspace(e, 'ws-a');
    await eventually(
      e.settleMs,
      async () => (await workspaceStatus(e, 'ws-a'))?.conditions?.[0]?.reason === 'WorkspacePending',
    );
    const first = await e.userKube.create<WorkspaceRevision>(
      WORKSPACE_REVISIONS,
      revision(e, 'ws-a', { source: { fromClaim: 'sandbox-1' }, contentManifest: DIGEST_A }, 'ws-a-one'),
    );
    const bad = await e.userKube.create<WorkspaceRevision>(
      WORKSPACE_REVISIONS,
      revision(e, 'ws-a', { contentManifest: 'not-a-digest' }),
    );
    // The head can be written by a reconcile that ran before the bad revision existed: wait for
    // the bad one's own status too, not only for the head.
    const revisionPhase = async (name: string) =>
      (await e.kube.get<WorkspaceRevision>(WORKSPACE_REVISIONS, e.namespace, name))?.status?.phase;
    await eventually(e.settleMs, async () => (await workspaceStatus(e, 'ws-a'))?.head === 'ws-a-one');
    await eventually(e.settleMs, async () => (await revisionPhase(bad.metadata.name ?? '')) === 'Pending');
    const status = await workspaceStatus(e, 'ws-a');
    assert.equal(status?.revisions, 1);
    assert.equal(status?.resumable, false);
    assert.equal(status?.conditions?.find((c) => c.type === 'Ready')?.reason, 'WorkspaceReady');
    const adopted = await e.kube.get<WorkspaceRevision>(WORKSPACE_REVISIONS, e.namespace, first.metadata.name ?? '');
    assert.equal(adopted?.status?.phase, 'Committed');
    assert.equal(adopted?.status?.conditions?.[0]?.reason, 'RevisionCommitted');
    assert.equal(adopted?.metadata.ownerReferences?.[0]?.kind, 'Workspace');
    assert.equal(adopted?.metadata.ownerReferences?.[0]?.controller, true);
    const pending = await e.kube.get<WorkspaceRevision>(WORKSPACE_REVISIONS, e.namespace, bad.metadata.name ?? '');
    assert.equal(pending?.status?.phase, 'Pending');
    assert.equal(pending?.status?.conditions?.[0]?.reason, 'RevisionPending');
    await e.userKube.delete(WORKSPACE_REVISIONS, e.namespace, bad.metadata.name ?? '').catch(() => false);
    await e.kube.delete(WORKSPACE_REVISIONS, e.namespace, bad.metadata.name ?? '');
  });

  test('fork(rev, dst) as the SDK writes it commits in the new workspace; a broken edge degrades it', async (e) => {
    await createWorkspace(e, 'ws-b');
    const forked = await e.userKube.create<WorkspaceRevision>(
      WORKSPACE_REVISIONS,
      revision(e, 'ws-b', {
        source: { fromWorkspaceRevision: { workspace: 'ws-a', revision: 'ws-a-one' } },
        contentManifest: DIGEST_A,
      }),
    );
    await eventually(e.settleMs, async () => (await workspaceStatus(e, 'ws-b'))?.head === forked.metadata.name);
    await e.userKube.create<WorkspaceRevision>(
      WORKSPACE_REVISIONS,
      revision(
        e,
        'ws-b',
        { source: { fromWorkspaceRevision: { workspace: 'ws-b', revision: 'ws-a-one' } }, contentManifest: DIGEST_B },
        'ws-b-broken',
      ),
    );
    await eventually(
      e.settleMs,
      async () =>
        (await workspaceStatus(e, 'ws-b'))?.conditions?.find((c) => c.type === 'Ready')?.reason === 'WorkspaceDegraded',
    );
    const broken = await e.kube.get<WorkspaceRevision>(WORKSPACE_REVISIONS, e.namespace, 'ws-b-broken');
    assert.equal(broken?.status?.phase, 'Pending');
    assert.match(broken?.status?.conditions?.[0]?.message ?? '', /belongs to ws-a, not ws-b/);
    await e.kube.delete(WORKSPACE_REVISIONS, e.namespace, 'ws-b-broken');
  });

  test('retention keeps the newest revisions and never the head or its ancestors', async (e) => {
    await createWorkspace(e, 'ws-keep', { retention: { revisions: 1 } });
    for (const n of ['1', '2', '3']) {
      await e.userKube.create<WorkspaceRevision>(
        WORKSPACE_REVISIONS,
        revision(e, 'ws-keep', { source: { fromClaim: `c${n}` }, contentManifest: n.repeat(64) }, `ws-keep-${n}`),
      );
      // Distinct creation seconds order the revisions by age.
      await new Promise((r) => setTimeout(r, 1_100));
    }
    await eventually(e.settleMs, async () => {
      const left = (await e.kube.list<WorkspaceRevision>(WORKSPACE_REVISIONS, e.namespace)).items
        .filter((r) => r.spec.workspaceRef.name === 'ws-keep')
        .map((r) => r.metadata.name);
      return left.length === 1 && left[0] === 'ws-keep-3';
    });
    assert.equal((await workspaceStatus(e, 'ws-keep'))?.head, 'ws-keep-3');
  });
}
