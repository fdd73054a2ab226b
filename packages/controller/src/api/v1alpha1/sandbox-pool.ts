import type { Condition, KubeObject, LocalObjectReference } from '../meta.js';
import type { DateTime, Duration, int32 } from '../scalars.js';
import type { Toleration } from './shared.js';

export interface PoolAutoscale {
  /**
   * @minimum 0
   * @default 0
   */
  minWarm?: int32;
  /** @minimum 1 */
  maxWarm: int32;
  /**
   * Warm sandboxes to keep beyond the ones in use.
   * @minimum 0
   * @default 2
   */
  targetSpare?: int32;
  /**
   * A scale-down waits until no claim arrived for this long.
   * @minimum 0
   * @default 300
   */
  scaleDownCooldownSeconds?: int32;
}

export interface PoolPlacement {
  /** Node labels a node must carry to hold this pool's sandboxes. */
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
}

export interface CpuPinning {
  /** @default false */
  enabled?: boolean;
  /** @default "pack" */
  policy?: 'spread' | 'pack';
  /** @default true */
  siblingPairing?: boolean;
  /** @default true */
  launchRtPriority?: boolean;
}

export interface SandboxPoolSpec {
  templateRef: LocalObjectReference;
  /** Warm sandboxes to keep when `autoscale` is unset; also the number of nodes to prepare. */
  replicas: int32;
  /** Only `Ready` is defined. */
  snapshotAfter?: string;
  snapshotDelay?: Duration;
  scaleDownAfterSnapshot?: boolean;
  snapshotStorage?: string;
  /** @default "Kill" */
  drainPolicy?: 'Kill' | 'Checkpoint';
  autoscale?: PoolAutoscale;
  placement?: PoolPlacement;
  cpuPinning?: CpuPinning;
}

export interface SandboxPoolStatus {
  /** Healthy nodes holding the prepared template. */
  readySnapshots: int32;
  totalSnapshots: int32;
  restoringCount: int32;
  lastSnapshotTime?: DateTime;
  conditions?: Condition[];
  nodeDistribution?: Record<string, int32>;
  templateDigest?: string;
  /** Warm sandboxes the pool aims for right now. */
  desiredWarm?: int32;
  /** Warm sandboxes that exist right now (not assigned to a claim). */
  warm?: int32;
  lastScaleDownTime?: DateTime;
}

/**
 * Warm sandboxes of one template, spread over the nodes that match `placement`.
 * @kind SandboxPool
 * @plural sandboxpools
 * @printcolumn Ready integer .status.readySnapshots
 * @printcolumn Desired integer .spec.replicas
 * @printcolumn Age date .metadata.creationTimestamp
 * @scale .spec.replicas .status.readySnapshots
 */
export interface SandboxPool extends KubeObject {
  spec: SandboxPoolSpec;
  status?: SandboxPoolStatus;
}
