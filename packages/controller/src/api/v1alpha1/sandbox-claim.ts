import type { Condition, KubeObject, LocalObjectReference } from '../meta.js';
import type { DateTime, Duration, int32, int64 } from '../scalars.js';
import type { EnvVar, SecretMount, VolumeOverride } from './shared.js';

export type SandboxPhase = 'Pending' | 'Restoring' | 'Ready' | 'Terminating' | 'Terminated' | 'Failed';

export interface OutputSpec {
  /** Narrow the terminate capture to this `/workspace` subtree. */
  path?: string;
  diff?: boolean;
  git?: {
    /** @pattern ^(https://|http://|ssh://|git://|file://|[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:).+ */
    remote: string;
    /** A text template; `{{.name}}` is the claim name. */
    branch?: string;
  };
}

export interface SandboxClaimSpec {
  poolRef: LocalObjectReference;
  env?: EnvVar[];
  secrets?: SecretMount[];
  volumeOverrides?: VolumeOverride[];
  /** Maximum lifetime from `status.startedAt`; unset means none. */
  timeout?: Duration;
  /** Reap after this long without activity; unset means none. */
  idleTimeout?: Duration;
  /** Preferred node. */
  nodeName?: string;
  workspaceRef?: LocalObjectReference;
  serviceAccount?: string;
  checkpointOnTerminate?: boolean;
  /** How long a Terminated or Failed claim lingers before it is deleted (default 600). */
  ttlSecondsAfterFinished?: int32;
  outputs?: OutputSpec[];
}

export interface SandboxClaimStatus {
  /** Pending, Restoring, Ready, Terminating, Terminated or Failed (no enum: readers tolerate new values). */
  phase?: string;
  /** Bare `host:port` of the sandbox HTTP API. */
  endpoint?: string;
  node?: string;
  /** The id the sandbox API at `endpoint` knows this sandbox by. */
  sandboxID?: string;
  forkTimeMicros?: int64;
  startedAt?: DateTime;
  finishedAt?: DateTime;
  conditions?: Condition[];
}

/**
 * A request for one sandbox from a pool: the handle a client holds.
 * @kind SandboxClaim
 * @plural sandboxclaims
 * @printcolumn Status string .status.phase
 * @printcolumn Endpoint string .status.endpoint
 * @printcolumn Node string .status.node
 * @printcolumn Age date .metadata.creationTimestamp
 */
export interface SandboxClaim extends KubeObject {
  spec: SandboxClaimSpec;
  status?: SandboxClaimStatus;
}
