import type { Condition, KubeObject, LocalObjectReference } from '../meta.js';
import type { DateTime, int32, int64 } from '../scalars.js';
import type { VolumeOverride } from './shared.js';

export interface ForkInfo {
  /** Child name: the child's SandboxClaim; its token Secret is `<name>-sandbox-token`. */
  name: string;
  sandboxID: string;
  /** Bare `host:port`. */
  endpoint: string;
  node: string;
  /** Pending, Ready, Failed (its claim failed) or Terminated (its claim was deleted). */
  phase: string;
  forkTimeMicros?: int64;
}

export interface SandboxForkSpec {
  /** The SandboxClaim to fork. */
  sourceRef: LocalObjectReference;
  /** @minimum 1 */
  replicas: int32;
  volumeOverrides?: VolumeOverride[];
  pauseSource?: boolean;
  /** Required when the source claim has `spec.secrets`. */
  allowSecretInheritance?: boolean;
}

export interface SandboxForkStatus {
  readyForks: int32;
  totalForks: int32;
  forks?: ForkInfo[];
  forkSnapshotTaken?: boolean;
  checkpointTime?: DateTime;
  conditions?: Condition[];
}

/**
 * Live copies of a running claim's sandbox, on the same node; each child is a SandboxClaim
 * `<fork>-fork-<i>` controlled by the fork.
 * @kind SandboxFork
 * @plural sandboxforks
 * @printcolumn Source string .spec.sourceRef.name
 * @printcolumn Forks integer .spec.replicas
 * @printcolumn Ready integer .status.readyForks
 * @printcolumn Age date .metadata.creationTimestamp
 */
export interface SandboxFork extends KubeObject {
  spec: SandboxForkSpec;
  status?: SandboxForkStatus;
}
