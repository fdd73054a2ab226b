import type { Condition, KubeObject, LocalObjectReference } from '../meta.js';
import type { Duration, int32, int64 } from '../scalars.js';
import type { SecretKeySelector } from './shared.js';

export interface WorkspaceS3Store {
  bucket: string;
  endpoint?: string;
  /** @default "us-east-1" */
  region?: string;
  prefix?: string;
  credentialsSecretRef?: LocalObjectReference;
  /** @default "accessKeyId" */
  accessKeyIdKey?: string;
  /** @default "secretAccessKey" */
  secretAccessKeyKey?: string;
}

export interface WorkspaceSpec {
  store?: {
    objectStorageRef?: string;
    s3?: WorkspaceS3Store;
    encryptionKeyRef?: SecretKeySelector;
  };
  git?: {
    paths?: string[];
    credentialsSecretRef?: SecretKeySelector;
    /** @default "x-access-token" */
    credentialsUsername?: string;
  };
  retention?: {
    /** Keep at most this many committed revisions (0 = unlimited). */
    revisions?: int32;
    minAge?: Duration;
  };
  grants?: Array<{
    serviceAccount: string;
    access: 'readonly' | 'readwrite';
  }>;
}

export interface WorkspaceStatus {
  head?: string;
  revisions?: int32;
  resumable?: boolean;
  conditions?: Condition[];
  observedGeneration?: int64;
}

/**
 * A durable `/workspace` that outlives sandboxes, as a chain of revisions.
 * @kind Workspace
 * @plural workspaces
 * @printcolumn Head string .status.head
 * @printcolumn Revisions integer .status.revisions
 * @printcolumn Resumable boolean .status.resumable
 * @printcolumn Age date .metadata.creationTimestamp
 */
export interface Workspace extends KubeObject {
  spec: WorkspaceSpec;
  status?: WorkspaceStatus;
}

export interface WorkspaceRevisionSpec {
  workspaceRef: LocalObjectReference;
  source?: {
    fromClaim?: string;
    fromWorkspaceRevision?: { workspace: string; revision: string };
  };
  /** sha256 content digest, 64 lowercase hex characters. */
  contentManifest?: string;
  /** @nullable */
  memorySnapshotRef?: string;
  /** @nullable */
  memorySnapshotPrincipal?: string;
}

export interface WorkspaceRevisionStatus {
  phase?: 'Pending' | 'Committed';
  diffSummary?: {
    parentRevision?: string;
    added?: string[];
    removed?: string[];
    modified?: string[];
    addedCount?: int32;
    removedCount?: int32;
    modifiedCount?: int32;
  };
  gitPushes?: Array<{ remote?: string; branch?: string }>;
  conditions?: Condition[];
  observedGeneration?: int64;
}

/**
 * One immutable snapshot of a workspace's content.
 * @kind WorkspaceRevision
 * @plural workspacerevisions
 * @printcolumn Workspace string .spec.workspaceRef.name
 * @printcolumn Phase string .status.phase
 * @printcolumn Age date .metadata.creationTimestamp
 */
export interface WorkspaceRevision extends KubeObject {
  spec: WorkspaceRevisionSpec;
  status?: WorkspaceRevisionStatus;
}
