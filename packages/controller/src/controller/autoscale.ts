/**
 * How many warm sandboxes a pool should hold right now (crd-v1.md section 4). Without
 * `autoscale` it is `replicas`. With it: in-use plus the spare target, clamped to
 * [min(minWarm, maxWarm), maxWarm]; growing is immediate, shrinking waits until no claim has
 * arrived for the cooldown.
 * @module
 */
import type { PoolAutoscale } from '../api/v1alpha1/index.js';

export interface WarmTargetInput {
  replicas: number;
  autoscale: PoolAutoscale | undefined;
  /** Live claims of the pool (not finished, not deleting). */
  inUse: number;
  /** Warm sandboxes that exist now. */
  currentWarm: number;
  /** Creation time (ms) of the pool's newest claim, if any. */
  lastClaimAt: number | undefined;
  now: number;
}

export interface WarmTarget {
  desired: number;
  /** True when a scale-down was wanted but the cooldown held it back. */
  heldByCooldown: boolean;
}

export function desiredWarm(input: WarmTargetInput): WarmTarget {
  const { autoscale } = input;
  if (!autoscale) return { desired: Math.max(0, input.replicas), heldByCooldown: false };
  const maxWarm = Math.max(1, autoscale.maxWarm);
  const minWarm = Math.min(Math.max(0, autoscale.minWarm ?? 0), maxWarm);
  const target = clamp(input.inUse + Math.max(0, autoscale.targetSpare ?? 2), minWarm, maxWarm);
  if (target >= input.currentWarm) return { desired: target, heldByCooldown: false };
  const cooldownMs = Math.max(0, autoscale.scaleDownCooldownSeconds ?? 300) * 1000;
  const recentClaim = input.lastClaimAt !== undefined && input.now - input.lastClaimAt < cooldownMs;
  if (recentClaim) return { desired: Math.min(input.currentWarm, maxWarm), heldByCooldown: true };
  return { desired: target, heldByCooldown: false };
}

function clamp(value: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, value));
}
