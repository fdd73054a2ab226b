/**
 * The SDK's ClusterApi over a KubeClient, so the SDK can run against the fake in the unit tier
 * (the real tier uses the SDK's own client-node binding).
 * @module
 */
import type { ClusterApi, KubeObjectLike, MitosPlural } from '@mitos/sdk';
import { ClusterApiError } from '@mitos/sdk';
import type { KubeObject, Secret } from '../api/meta.js';
import { KubeApiError, type KubeClient } from '../kube/client.js';
import {
  type ResourceType,
  SANDBOX_CLAIMS,
  SANDBOX_FORKS,
  SANDBOX_POOLS,
  SANDBOX_TEMPLATES,
  SECRETS,
} from '../kube/resources.js';

const TYPES: Record<MitosPlural, ResourceType> = {
  sandboxtemplates: SANDBOX_TEMPLATES,
  sandboxpools: SANDBOX_POOLS,
  sandboxclaims: SANDBOX_CLAIMS,
  sandboxforks: SANDBOX_FORKS,
};

export function clusterApiOver(kube: KubeClient, namespace: string): ClusterApi {
  const translate = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof KubeApiError) throw new ClusterApiError(err.status, err.message, { cause: err });
      throw err;
    }
  };
  return {
    namespace,
    get: (plural, name) =>
      translate(async () => (await kube.get<KubeObject>(TYPES[plural], namespace, name)) as KubeObjectLike | undefined),
    create: (plural, body) =>
      translate(
        async () =>
          (await kube.create(TYPES[plural], { ...body, metadata: { ...body.metadata, namespace } })) as KubeObjectLike,
      ),
    patch: (plural, name, patch) =>
      translate(async () => (await kube.patch(TYPES[plural], namespace, name, patch)) as KubeObjectLike),
    delete: (plural, name) => translate(() => kube.delete(TYPES[plural], namespace, name)),
    list: (plural) =>
      translate(async () => (await kube.list<KubeObject>(TYPES[plural], namespace)).items as KubeObjectLike[]),
    readSecret: async (name) => {
      const secret = await kube.get<Secret>(SECRETS, namespace, name).catch(() => undefined);
      if (!secret) return undefined;
      return Object.fromEntries(
        Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
      );
    },
  };
}
