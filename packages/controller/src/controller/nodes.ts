/**
 * The controller's picture of the node daemons, read from their registration Leases (see
 * node/registration.ts): endpoints, labels, capacity and whether each is still renewing.
 * @module
 */
import {
  ANNOTATION_NODE_CAPACITY,
  ANNOTATION_NODE_CONTROL_ENDPOINT,
  ANNOTATION_NODE_SANDBOX_ENDPOINT,
  LABEL_NODE,
} from '../api/group.js';
import type { Lease } from '../api/meta.js';
import type { NodeCapacity } from '../node/node-sandboxes.js';

export interface NodeView {
  name: string;
  labels: Record<string, string>;
  /** Bare host:port the SDK reaches sandboxes at. */
  sandboxEndpoint: string;
  controlEndpoint: string;
  capacity: NodeCapacity;
  healthy: boolean;
}

const EMPTY_CAPACITY: NodeCapacity = { maxSandboxes: 0, activeSandboxes: 0, templates: {} };

/** Pure: one Lease to a NodeView as of `now` (ms). Leases missing endpoints are not nodes. */
export function nodeFromLease(lease: Lease, now: number): NodeView | undefined {
  const annotations = lease.metadata.annotations ?? {};
  const labels = lease.metadata.labels ?? {};
  const name = labels[LABEL_NODE] ?? lease.spec?.holderIdentity;
  const sandboxEndpoint = annotations[ANNOTATION_NODE_SANDBOX_ENDPOINT];
  const controlEndpoint = annotations[ANNOTATION_NODE_CONTROL_ENDPOINT];
  if (!name || !sandboxEndpoint || !controlEndpoint) return undefined;
  let capacity = EMPTY_CAPACITY;
  try {
    capacity = { ...EMPTY_CAPACITY, ...JSON.parse(annotations[ANNOTATION_NODE_CAPACITY] ?? '{}') };
  } catch {
    // A garbled annotation only costs placement information until the next renewal.
  }
  const renewed = Date.parse(lease.spec?.renewTime ?? '');
  const ttlMs = (lease.spec?.leaseDurationSeconds ?? 40) * 1000;
  const healthy = Number.isFinite(renewed) && now - renewed < ttlMs;
  return { name, labels, sandboxEndpoint, controlEndpoint, capacity, healthy };
}

export function matchesNodeSelector(node: NodeView, selector: Record<string, string> | undefined): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => node.labels[k] === v);
}
