/**
 * A node's part in binding a claim to a Workspace: hydrate a manifest into the claim's sandbox,
 * capture its /workspace into the Workspace's store. The controller keeps every record
 * (WorkspaceRevision objects) and hands the node the store to use with each call (bucket,
 * credentials read from the Workspace's Secret, encryption key); the node keeps nothing and
 * never logs them. Bytes move through the sandbox's own agent (engine workspaces/tree.ts).
 * @module
 */
import {
  BlobStore,
  type CapturedRevision,
  captureToStore,
  type Engine,
  hydrateFromStore,
  parseEncryptionKey,
  S3Backend,
} from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import { z } from 'zod';
import type { SandboxLedger } from './ledger.js';

const Digest = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 digest is 64 lowercase hex characters');

export const WorkspaceStoreBody = z.object({
  s3: z.object({
    bucket: z.string().min(1).max(255),
    endpoint: z.url().optional(),
    region: z.string().min(1).max(64).optional(),
    prefix: z.string().max(512).optional(),
    accessKeyId: z.string().min(1).max(256),
    secretAccessKey: z.string().min(1).max(1024),
  }),
  /** 32 bytes, hex or base64 (the Secret's value). */
  encryptionKey: z.string().min(1).max(128).optional(),
});
export type WorkspaceStoreSpec = z.infer<typeof WorkspaceStoreBody>;

export const HydrateBody = z.object({
  namespace: z.string().min(1).max(253),
  store: WorkspaceStoreBody,
  /** The manifest to write into /workspace; null makes an empty /workspace. */
  manifest: Digest.nullable(),
});

export const CaptureBody = z.object({
  namespace: z.string().min(1).max(253),
  store: WorkspaceStoreBody,
  paths: z.array(z.string().min(1).max(4096)).max(64).optional(),
  parent: Digest.nullable().optional(),
});

export class NodeWorkspaceIO {
  constructor(
    private readonly engine: Engine,
    private readonly ledger: SandboxLedger,
  ) {}

  async hydrate(sandboxId: string, body: z.infer<typeof HydrateBody>): Promise<{ files: number }> {
    this.#requireClaimed(sandboxId, body.namespace);
    return withStore(body.store, (store) => hydrateFromStore(this.engine.files, sandboxId, store, body.manifest));
  }

  async capture(sandboxId: string, body: z.infer<typeof CaptureBody>): Promise<CapturedRevision> {
    this.#requireClaimed(sandboxId, body.namespace);
    return withStore(body.store, (store) =>
      captureToStore(this.engine.files, sandboxId, store, {
        ...(body.paths && { paths: body.paths }),
        parent: body.parent ?? null,
      }),
    );
  }

  /** Only a claim's own sandbox, asked for by its namespace, is read or written. */
  #requireClaimed(sandboxId: string, namespace: string): void {
    const owner = this.ledger.get(sandboxId)?.owner;
    if (owner?.kind !== 'claim' || owner.namespace !== namespace || !this.engine.get(sandboxId)) {
      throw new MitosError('not_found', `no claimed sandbox ${sandboxId} in namespace ${namespace}`);
    }
  }
}

/** A store for one call; its client (and its sockets) go when the call ends. */
async function withStore<T>(spec: WorkspaceStoreSpec, use: (store: BlobStore) => Promise<T>): Promise<T> {
  const key = spec.encryptionKey === undefined ? undefined : parseEncryptionKey(spec.encryptionKey);
  const backend = new S3Backend(spec.s3);
  try {
    return await use(new BlobStore(backend, key));
  } finally {
    backend.close();
  }
}
