/**
 * The slices of core Kubernetes object types this package reads and writes. Only the fields we
 * use are typed; the apiserver returns more.
 * @module
 */
import type { DateTime, int64 } from './scalars.js';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
}

/** Every object the API serves has these. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

/** A reference to an object in the same namespace. */
export interface LocalObjectReference {
  /** @minLength 1 */
  name: string;
}

/** The standard `metav1.Condition`. */
export interface Condition {
  /**
   * Type of condition in CamelCase, e.g. `Ready`.
   * @maxLength 316
   * @pattern ^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?){0,}/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$
   */
  type: string;
  status: 'True' | 'False' | 'Unknown';
  /**
   * Machine-readable reason for the last transition, in CamelCase.
   * @minLength 1
   * @maxLength 1024
   * @pattern ^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$
   */
  reason: string;
  /**
   * Human-readable details about the last transition.
   * @maxLength 32768
   */
  message: string;
  lastTransitionTime: DateTime;
  /** @minimum 0 */
  observedGeneration?: int64;
}

export interface Secret extends KubeObject {
  type?: string;
  /** Base64-encoded values. */
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}
