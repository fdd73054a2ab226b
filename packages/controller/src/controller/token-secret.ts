/**
 * The per-sandbox token Secret `<handle>-sandbox-token` (crd-v1.md 9.3): `token` is 64 hex
 * characters, `endpoint` the bare host:port. It is written before the sandbox is created, so a
 * retried reconcile reuses the same token and the Secret always exists before the Ready write.
 * @module
 */
import { LABEL_TOKEN_FOR, tokenSecretName } from '../api/group.js';
import type { OwnerReference, Secret } from '../api/meta.js';
import { isConflict, type KubeClient } from '../kube/client.js';
import { SECRETS } from '../kube/resources.js';

const TOKEN_PATTERN = /^[0-9a-f]{64}$/;

export interface TokenSecretTarget {
  namespace: string;
  /** Claim or fork-child name. */
  handle: string;
  endpoint: string;
  owner: OwnerReference;
}

export async function ensureTokenSecret(
  kube: KubeClient,
  target: TokenSecretTarget,
  mint: () => string,
): Promise<string> {
  const name = tokenSecretName(target.handle);
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = await kube.get<Secret>(SECRETS, target.namespace, name);
    const token = decode(existing?.data?.token);
    // A Secret left by an earlier object of the same name is not this one's: replace it, or
    // the garbage collector would delete it along with its old owner.
    const ours = existing?.metadata.ownerReferences?.some((o) => o.uid === target.owner.uid) ?? false;
    if (existing && ours && token !== undefined && TOKEN_PATTERN.test(token)) {
      if (decode(existing.data?.endpoint) !== target.endpoint) {
        await kube.patch(SECRETS, target.namespace, name, { data: { endpoint: encode(target.endpoint) } });
      }
      return token;
    }
    const fresh = mint();
    const body: Secret = {
      metadata: {
        name,
        namespace: target.namespace,
        labels: { [LABEL_TOKEN_FOR]: target.handle },
        ownerReferences: [{ ...target.owner, controller: true, blockOwnerDeletion: true }],
      },
      type: 'Opaque',
      data: { token: encode(fresh), endpoint: encode(target.endpoint) },
    };
    try {
      if (existing) {
        await kube.update(SECRETS, { ...existing, ...body, metadata: { ...existing.metadata, ...body.metadata } });
      } else {
        await kube.create(SECRETS, body);
      }
      return fresh;
    } catch (err) {
      // Someone wrote it between our read and write: read again and use theirs.
      if (!isConflict(err)) throw err;
    }
  }
  throw new Error(`could not write Secret ${target.namespace}/${name}`);
}

export async function deleteTokenSecret(kube: KubeClient, namespace: string, handle: string): Promise<void> {
  await kube.delete(SECRETS, namespace, tokenSecretName(handle));
}

function encode(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function decode(b64: string | undefined): string | undefined {
  return b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8');
}
