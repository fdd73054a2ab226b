/**
 * A claim bound to a Workspace (crd-v1.md 10.2.6): one writer at a time; the head revision is
 * hydrated into /workspace before the claim reports Ready; on terminate (delete, timeout, idle)
 * /workspace (narrowed by `outputs[].path`) is captured into the Workspace's store and becomes a
 * WorkspaceRevision (`{diff: true}` records its diff summary). Objects live in the Workspace's
 * `store.s3` bucket, which every node reads and writes, sealed with `store.encryptionKeyRef`
 * when set; credentials and keys come from Secrets and reach only the node doing the work.
 * @module
 */
import {
  ANNOTATION_WORKSPACE_DEHYDRATED,
  ANNOTATION_WORKSPACE_HYDRATED_HEAD,
  API_VERSION,
  LABEL_FROM_CLAIM_UID,
  LABEL_WORKSPACE,
} from '../api/group.js';
import type { Secret } from '../api/meta.js';
import type { SandboxClaim, Workspace, WorkspaceRevision } from '../api/v1alpha1/index.js';
import { SANDBOX_CLAIMS, SECRETS, WORKSPACE_REVISIONS, WORKSPACES } from '../kube/resources.js';
import type { WorkspaceStoreSpec } from '../node/workspace-io.js';
import type { ControllerContext } from './context.js';
import { NodeCallError } from './node-client.js';
import { newest } from './workspace-retention.js';

const DIGEST = /^[0-9a-f]{64}$/;

export interface Binding {
  workspace: string;
  store: WorkspaceStoreSpec;
  /** False for a `readonly` grant: hydrated, never committed, never the single writer. */
  writer: boolean;
}

type Why = { reason: string; message: string };
export type BindingOutcome = { bind?: Binding } | { refuse: Why } | { wait: Why };

/** What a bound claim needs before a sandbox is taken: the Workspace, its store, the single-writer turn. */
export async function resolveBinding(
  ctx: ControllerContext,
  claim: SandboxClaim,
  options: { checkBusy: boolean } = { checkBusy: true },
): Promise<BindingOutcome> {
  const name = claim.spec.workspaceRef?.name;
  const git = claim.spec.outputs?.find((o) => o.git !== undefined);
  if (git) return { refuse: gitUnsupported('spec.outputs[].git') };
  if (!name) return {};
  const namespace = claim.metadata.namespace ?? '';
  const ws = await ctx.kube.get<Workspace>(WORKSPACES, namespace, name);
  if (!ws) return { wait: { reason: 'WorkspaceNotFound', message: `Workspace ${name} not found` } };
  if (ws.spec.git?.paths && ws.spec.git.paths.length > 0)
    return { refuse: gitUnsupported(`Workspace ${name} spec.git`) };
  let writer = true;
  if (ws.spec.grants && ws.spec.grants.length > 0) {
    const grant = ws.spec.grants.find((g) => g.serviceAccount === claim.spec.serviceAccount);
    if (!grant) {
      const who = claim.spec.serviceAccount
        ? `service account ${claim.spec.serviceAccount}`
        : 'a claim without spec.serviceAccount';
      return { refuse: { reason: 'WorkspaceAccessDenied', message: `Workspace ${name} grants no access to ${who}` } };
    }
    writer = grant.access === 'readwrite';
  }
  const store = await resolveStore(ctx, namespace, ws);
  if (!('store' in store)) return store;
  if (writer && options.checkBusy) {
    const holder = await writerAhead(ctx, claim, name);
    if (holder) {
      return { wait: { reason: 'WorkspaceBusy', message: `Workspace ${name} is bound to claim ${holder}` } };
    }
  }
  return { bind: { workspace: name, store: store.store, writer } };
}

function gitUnsupported(what: string): Why {
  return {
    reason: 'GitPushUnsupported',
    message: `${what}: pushing a workspace to git is not supported; capture with outputs {path} or {diff: true}`,
  };
}

async function resolveStore(
  ctx: ControllerContext,
  namespace: string,
  ws: Workspace,
): Promise<{ store: WorkspaceStoreSpec } | { refuse: Why } | { wait: Why }> {
  const name = ws.metadata.name ?? '';
  const s3 = ws.spec.store?.s3;
  if (ws.spec.store?.objectStorageRef !== undefined) {
    return {
      refuse: {
        reason: 'StoreUnsupported',
        message: `Workspace ${name}: store.objectStorageRef is not supported; use store.s3`,
      },
    };
  }
  if (!s3) {
    return {
      refuse: {
        reason: 'WorkspaceStoreRequired',
        message: `Workspace ${name} has no store.s3: a claim in a cluster can run on any node, so its workspace needs a bucket every node reaches`,
      },
    };
  }
  const credentials = s3.credentialsSecretRef?.name;
  if (!credentials) {
    return {
      refuse: {
        reason: 'StoreCredentialsRequired',
        message: `Workspace ${name}: store.s3.credentialsSecretRef is required`,
      },
    };
  }
  const accessKeyId = await secretValue(ctx, namespace, credentials, s3.accessKeyIdKey ?? 'accessKeyId');
  const secretAccessKey = await secretValue(ctx, namespace, credentials, s3.secretAccessKeyKey ?? 'secretAccessKey');
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    return {
      wait: {
        reason: 'SecretNotFound',
        message: `Secret ${credentials} lacks the store credentials of Workspace ${name}`,
      },
    };
  }
  const keyRef = ws.spec.store?.encryptionKeyRef;
  let encryptionKey: string | undefined;
  if (keyRef) {
    encryptionKey = await secretValue(ctx, namespace, keyRef.name ?? '', keyRef.key);
    if (encryptionKey === undefined && !keyRef.optional) {
      return {
        wait: {
          reason: 'SecretNotFound',
          message: `Secret ${keyRef.name} has no key ${keyRef.key} (encryptionKeyRef)`,
        },
      };
    }
    if (encryptionKey !== undefined && !isKey(encryptionKey)) {
      return {
        refuse: {
          reason: 'InvalidEncryptionKey',
          message: `Secret ${keyRef.name} key ${keyRef.key} must hold 32 bytes (64 hex characters or base64)`,
        },
      };
    }
  }
  return {
    store: {
      s3: {
        bucket: s3.bucket,
        ...(s3.endpoint && { endpoint: s3.endpoint }),
        ...(s3.region && { region: s3.region }),
        ...(s3.prefix && { prefix: s3.prefix }),
        accessKeyId,
        secretAccessKey,
      },
      ...(encryptionKey !== undefined && { encryptionKey: encryptionKey.trim() }),
    },
  };
}

async function secretValue(ctx: ControllerContext, namespace: string, secret: string, key: string) {
  const encoded = (await ctx.kube.get<Secret>(SECRETS, namespace, secret))?.data?.[key];
  return encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8');
}

function isKey(text: string): boolean {
  const t = text.trim();
  return /^[0-9a-fA-F]{64}$/.test(t) || (/^[A-Za-z0-9+/]+={0,2}$/.test(t) && Buffer.from(t, 'base64').length === 32);
}

/**
 * The live claim ahead of this one on the workspace, if any: one already holding a sandbox, or
 * an older one still waiting (oldest first, then by name), so two claims never both win.
 */
async function writerAhead(
  ctx: ControllerContext,
  claim: SandboxClaim,
  workspace: string,
): Promise<string | undefined> {
  const namespace = claim.metadata.namespace ?? '';
  const mine = order(claim);
  const claims = await ctx.kube.list<SandboxClaim>(SANDBOX_CLAIMS, namespace);
  const ahead = claims.items.find((other) => {
    if (other.metadata.name === claim.metadata.name || other.spec.workspaceRef?.name !== workspace) return false;
    if (other.metadata.deletionTimestamp && other.metadata.annotations?.[ANNOTATION_WORKSPACE_DEHYDRATED] !== undefined)
      return false;
    const phase = other.status?.phase ?? 'Pending';
    if (phase === 'Failed' || phase === 'Terminated') return false;
    return phase === 'Ready' || phase === 'Restoring' || order(other) < mine;
  });
  return ahead?.metadata.name;
}

function order(claim: SandboxClaim): string {
  return `${claim.metadata.creationTimestamp ?? ''}/${claim.metadata.name ?? ''}`;
}

/** Writes the workspace head into the claim's new sandbox and records which head it was. */
export async function hydrateClaim(
  ctx: ControllerContext,
  claim: SandboxClaim,
  binding: Binding,
  api: { hydrateWorkspace: import('./node-client.js').NodeApi['hydrateWorkspace'] },
  sandboxId: string,
): Promise<SandboxClaim> {
  const namespace = claim.metadata.namespace ?? '';
  const head = await currentHead(ctx, namespace, binding.workspace);
  await api.hydrateWorkspace(sandboxId, {
    namespace,
    store: binding.store,
    manifest: head?.spec.contentManifest ?? null,
  });
  return annotate(ctx, claim, ANNOTATION_WORKSPACE_HYDRATED_HEAD, head?.metadata.name ?? '');
}

/**
 * The head by the Workspace reconciler's rule (newest valid revision), read from the revisions
 * themselves: the previous writer's revision may not be in the Workspace's status yet.
 */
async function currentHead(ctx: ControllerContext, namespace: string, workspace: string) {
  const revisions = await ctx.kube.list<WorkspaceRevision>(WORKSPACE_REVISIONS, namespace);
  return newest(
    revisions.items.filter(
      (r) =>
        r.spec.workspaceRef?.name === workspace &&
        !r.metadata.deletionTimestamp &&
        DIGEST.test(r.spec.contentManifest ?? '') &&
        r.status?.phase !== 'Pending',
    ),
  );
}

async function manifestOf(ctx: ControllerContext, namespace: string, revision: string): Promise<string> {
  const rev = await ctx.kube.get<WorkspaceRevision>(WORKSPACE_REVISIONS, namespace, revision);
  const digest = rev?.spec.contentManifest;
  if (!digest) throw new Error(`WorkspaceRevision ${revision} has no contentManifest`);
  return digest;
}

/**
 * Captures a bound claim's /workspace as a WorkspaceRevision before its sandbox goes; once per
 * claim (the annotation and the from-claim-uid label make a retry find what it did). A node
 * that is gone took the tree with it: recorded as no revision. Other failures throw, so the
 * caller retries and the sandbox is not released with its work.
 */
export async function dehydrateClaim(ctx: ControllerContext, claim: SandboxClaim): Promise<SandboxClaim> {
  const annotations = claim.metadata.annotations ?? {};
  const workspace = claim.spec.workspaceRef?.name;
  const hydratedHead = annotations[ANNOTATION_WORKSPACE_HYDRATED_HEAD];
  if (!workspace || hydratedHead === undefined || annotations[ANNOTATION_WORKSPACE_DEHYDRATED] !== undefined)
    return claim;
  const namespace = claim.metadata.namespace ?? '';
  const where = { claim: `${namespace}/${claim.metadata.name}`, workspace };
  const node = ctx.nodes().find((n) => n.name === claim.status?.node);
  const sandboxId = claim.status?.sandboxID;
  if (!node?.healthy || !sandboxId) {
    ctx.log.warn(where, "workspace not captured: the claim's node is gone");
    return annotate(ctx, claim, ANNOTATION_WORKSPACE_DEHYDRATED, '');
  }
  const resolved = await resolveBinding(ctx, claim, { checkBusy: false });
  if ('wait' in resolved) throw new Error(`cannot capture workspace ${workspace}: ${resolved.wait.message}`);
  if ('refuse' in resolved || !resolved.bind?.writer) return annotate(ctx, claim, ANNOTATION_WORKSPACE_DEHYDRATED, '');
  const parent = hydratedHead === '' ? null : await manifestOf(ctx, namespace, hydratedHead);
  const paths = (claim.spec.outputs ?? []).flatMap((o) => (o.path ? [o.path] : []));
  let captured: Awaited<ReturnType<import('./node-client.js').NodeApi['captureWorkspace']>>;
  try {
    captured = await ctx.nodeApi(node).captureWorkspace(sandboxId, {
      namespace,
      store: resolved.bind.store,
      ...(paths.length > 0 && { paths }),
      parent,
    });
  } catch (err) {
    if (!(err instanceof NodeCallError) || err.code !== 'not_found') throw err;
    ctx.log.warn(where, 'workspace not captured: the sandbox is gone');
    return annotate(ctx, claim, ANNOTATION_WORKSPACE_DEHYDRATED, '');
  }
  if (!captured.changed) return annotate(ctx, claim, ANNOTATION_WORKSPACE_DEHYDRATED, '');
  const revision = await revisionFor(ctx, claim, workspace, captured.digest);
  if (claim.spec.outputs?.some((o) => o.diff)) {
    const { added, removed, modified } = captured.diff;
    const diffSummary = {
      ...(hydratedHead !== '' && { parentRevision: hydratedHead }),
      added,
      removed,
      modified,
      addedCount: added.length,
      removedCount: removed.length,
      modifiedCount: modified.length,
    };
    await ctx.kube.patch(WORKSPACE_REVISIONS, namespace, revision, { status: { diffSummary } }, { status: true });
  }
  ctx.log.info({ ...where, revision, files: captured.files }, 'workspace captured');
  return annotate(ctx, claim, ANNOTATION_WORKSPACE_DEHYDRATED, revision);
}

/** The revision this claim's terminate made, made now if an earlier try did not get that far. */
async function revisionFor(
  ctx: ControllerContext,
  claim: SandboxClaim,
  workspace: string,
  digest: string,
): Promise<string> {
  const namespace = claim.metadata.namespace ?? '';
  const uid = claim.metadata.uid ?? '';
  const made = await ctx.kube.list<WorkspaceRevision>(WORKSPACE_REVISIONS, namespace, {
    labelSelector: `${LABEL_FROM_CLAIM_UID}=${uid}`,
  });
  const existing = made.items.find((r) => r.spec.workspaceRef.name === workspace);
  if (existing) return existing.metadata.name ?? '';
  const created = await ctx.kube.create<WorkspaceRevision>(WORKSPACE_REVISIONS, {
    apiVersion: API_VERSION,
    kind: 'WorkspaceRevision',
    metadata: {
      generateName: `${workspace}-`,
      namespace,
      labels: { [LABEL_WORKSPACE]: workspace, [LABEL_FROM_CLAIM_UID]: uid },
    },
    spec: {
      workspaceRef: { name: workspace },
      source: { fromClaim: claim.metadata.name ?? '' },
      contentManifest: digest,
    },
  });
  return created.metadata.name ?? '';
}

function annotate(ctx: ControllerContext, claim: SandboxClaim, key: string, value: string): Promise<SandboxClaim> {
  return ctx.kube.patch<SandboxClaim>(SANDBOX_CLAIMS, claim.metadata.namespace ?? '', claim.metadata.name ?? '', {
    metadata: { annotations: { [key]: value } },
  });
}
