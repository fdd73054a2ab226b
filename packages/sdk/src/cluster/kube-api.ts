/**
 * ClusterApi over the official client, loaded with a dynamic import so direct-mode users never
 * load (or install) it. Credentials: an explicit kubeconfig path, in-cluster service-account
 * credentials when asked for or when running in a pod, else the default kubeconfig lookup.
 * @module
 */
import type * as K8s from '@kubernetes/client-node';
import { AgentRunError } from '../errors.js';
import { type ClusterApi, ClusterApiError, type KubeObjectLike, type MitosPlural } from './api.js';

const GROUP = 'mitos.run';
const VERSION = 'v1alpha1';

export interface KubeApiOptions {
  kubeconfig?: string | undefined;
  inCluster?: boolean | undefined;
  namespace: string;
}

export async function loadKubeApi(options: KubeApiOptions): Promise<ClusterApi> {
  let k8s: typeof K8s;
  try {
    k8s = await import('@kubernetes/client-node');
  } catch (err) {
    throw new AgentRunError(
      {
        code: 'missing_dependency',
        message: 'cluster mode needs @kubernetes/client-node',
        cause: (err as Error).message,
        remediation: 'npm install @kubernetes/client-node@1.4.0 (2.x needs Node 22)',
      },
      { cause: err },
    );
  }
  const config = new k8s.KubeConfig();
  if (options.kubeconfig) config.loadFromFile(options.kubeconfig);
  else if (options.inCluster || process.env.KUBERNETES_SERVICE_HOST) config.loadFromCluster();
  else config.loadFromDefault();
  return new ClientNodeApi(k8s, config, options.namespace);
}

class ClientNodeApi implements ClusterApi {
  readonly #custom: K8s.CustomObjectsApi;
  readonly #core: K8s.CoreV1Api;
  readonly #mergePatch: ReturnType<typeof K8s.setHeaderOptions>;

  constructor(
    k8s: typeof K8s,
    config: K8s.KubeConfig,
    readonly namespace: string,
  ) {
    this.#custom = config.makeApiClient(k8s.CustomObjectsApi);
    this.#core = config.makeApiClient(k8s.CoreV1Api);
    this.#mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
  }

  async get(plural: MitosPlural, name: string): Promise<KubeObjectLike | undefined> {
    try {
      return await this.#custom.getNamespacedCustomObject({ ...this.#where(plural), name });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw wrap(err, `get ${plural}/${name}`);
    }
  }

  async create(plural: MitosPlural, body: KubeObjectLike): Promise<KubeObjectLike> {
    try {
      return await this.#custom.createNamespacedCustomObject({ ...this.#where(plural), body });
    } catch (err) {
      throw wrap(err, `create ${plural}/${body.metadata.name ?? ''}`);
    }
  }

  async patch(plural: MitosPlural, name: string, patch: object): Promise<KubeObjectLike> {
    try {
      return await this.#custom.patchNamespacedCustomObject(
        { ...this.#where(plural), name, body: patch },
        this.#mergePatch,
      );
    } catch (err) {
      throw wrap(err, `patch ${plural}/${name}`);
    }
  }

  async delete(plural: MitosPlural, name: string): Promise<boolean> {
    try {
      await this.#custom.deleteNamespacedCustomObject({ ...this.#where(plural), name });
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw wrap(err, `delete ${plural}/${name}`);
    }
  }

  async list(plural: MitosPlural): Promise<KubeObjectLike[]> {
    try {
      const out = (await this.#custom.listNamespacedCustomObject(this.#where(plural))) as { items?: KubeObjectLike[] };
      return out.items ?? [];
    } catch (err) {
      throw wrap(err, `list ${plural}`);
    }
  }

  async readSecret(name: string): Promise<Record<string, string> | undefined> {
    try {
      const secret = await this.#core.readNamespacedSecret({ name, namespace: this.namespace });
      const data: Record<string, string> = {};
      for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
      return data;
    } catch {
      // crd-v1.md 9.3: an unreadable Secret leaves the handle tokenless; the node answers 401.
      return undefined;
    }
  }

  #where(plural: MitosPlural) {
    return { group: GROUP, version: VERSION, namespace: this.namespace, plural };
  }
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

function wrap(err: unknown, what: string): ClusterApiError {
  const status = statusOf(err) ?? 0;
  const body = (err as { body?: unknown }).body;
  let detail = (err as Error).message;
  if (typeof body === 'string') {
    try {
      detail = (JSON.parse(body) as { message?: string }).message ?? detail;
    } catch {
      // keep the exception message
    }
  }
  return new ClusterApiError(status, `${what}: ${detail}`, { cause: err });
}
