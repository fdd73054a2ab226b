/**
 * The few Kubernetes calls cluster mode makes, bound to one namespace. kube-api.ts implements
 * them with @kubernetes/client-node; tests pass their own.
 * @module
 */

export interface KubeObjectLike {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    creationTimestamp?: string;
    deletionTimestamp?: string;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

/** Plural names of the mitos.run/v1alpha1 resources the SDK uses. */
export type MitosPlural = 'sandboxtemplates' | 'sandboxpools' | 'sandboxclaims' | 'sandboxforks';

export interface ClusterApi {
  readonly namespace: string;
  /** Undefined when the object does not exist. */
  get(plural: MitosPlural, name: string): Promise<KubeObjectLike | undefined>;
  /** Throws ClusterApiError with status 409 when the name is taken. */
  create(plural: MitosPlural, body: KubeObjectLike): Promise<KubeObjectLike>;
  /** JSON merge patch of the object (not its status). */
  patch(plural: MitosPlural, name: string, patch: object): Promise<KubeObjectLike>;
  /** False when there was nothing to delete. */
  delete(plural: MitosPlural, name: string): Promise<boolean>;
  list(plural: MitosPlural): Promise<KubeObjectLike[]>;
  /** A Secret's decoded data, or undefined when it cannot be read. */
  readSecret(name: string): Promise<Record<string, string> | undefined>;
}

/** A failed Kubernetes call, with the HTTP status the apiserver answered. */
export class ClusterApiError extends Error {
  override name = 'ClusterApiError';
  constructor(
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
