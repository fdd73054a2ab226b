/**
 * Types shared by several mitos.run/v1alpha1 kinds (crd-v1.md section 2). The CRD generator
 * reads these declarations: optional properties are optional in the schema, JSDoc tags such as
 * `@default`, `@minimum`, `@pattern` become schema constraints, and string-literal unions
 * become enums.
 * @module
 */
import type { int64, Quantity } from '../scalars.js';

export interface ObjectKeySelector {
  name?: string;
  key: string;
  optional?: boolean;
}

export interface SecretKeySelector {
  name?: string;
  key: string;
  optional?: boolean;
}

export interface FieldSelector {
  apiVersion?: string;
  fieldPath: string;
}

export interface ResourceFieldSelector {
  containerName?: string;
  divisor?: Quantity;
  resource: string;
}

/** The core/v1 EnvVar shape. Claims deliver only `name`/`value` into the guest. */
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    configMapKeyRef?: ObjectKeySelector;
    secretKeyRef?: ObjectKeySelector;
    fieldRef?: FieldSelector;
    resourceFieldRef?: ResourceFieldSelector;
  };
}

/** Per-sandbox network posture. Empty strings mean deny. */
export interface NetworkPolicy {
  /** Default egress verdict: `deny` or `allow`. */
  egress?: string;
  /** `host:port` allowlist. */
  allow?: string[];
  /** Drop all egress; overrides everything else. */
  blockNetwork?: boolean;
  allowCidrs?: string[];
  /** Unsolicited inbound: `deny` or `allow`. */
  inbound?: string;
  inboundCidrs?: string[];
}

export interface S3VolumeSource {
  bucket: string;
  prefix?: string;
  region?: string;
}

export interface GcsVolumeSource {
  bucket: string;
  prefix?: string;
}

export interface PvcVolumeSource {
  claimName: string;
}

export interface GitVolumeSource {
  repo: string;
  branch?: string;
  ref?: string;
}

export interface SandboxVolume {
  /**
   * @pattern ^[a-zA-Z0-9][a-zA-Z0-9_-]*$
   * @maxLength 64
   */
  name: string;
  size?: string;
  source?: {
    s3?: S3VolumeSource;
    gcs?: GcsVolumeSource;
    pvc?: PvcVolumeSource;
    git?: GitVolumeSource;
  };
  readOnly?: boolean;
  mountPath?: string;
  /** `Fresh`, `Share`, `Clone` or `Snapshot`. */
  forkPolicy?: string;
  snapshotClass?: string;
  storageClass?: string;
}

export interface VolumeOverride {
  name: string;
  forkPolicy: string;
}

/** A user Secret key delivered into the guest as an environment variable. */
export interface SecretMount {
  name: string;
  secretRef: ObjectKeySelector;
  /** Variable name in the guest; `name` when empty. */
  envVar?: string;
  mountPath?: string;
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: int64;
}
