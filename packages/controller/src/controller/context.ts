/**
 * What every reconciler is given: the API, the node picture and how to reach a node, a clock,
 * and a token source. Tests supply fakes for each.
 * @module
 */
import type { KubeClient } from '../kube/client.js';
import type { NodeApi } from './node-client.js';
import type { NodeView } from './nodes.js';

export interface Logger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

export interface ControllerContext {
  kube: KubeClient;
  /** Current node views (from the node Lease informer). */
  nodes(): NodeView[];
  nodeApi(node: NodeView): NodeApi;
  now(): number;
  /** 64 lowercase hex characters (32 random bytes). */
  mintToken(): string;
  log: Logger;
  /** How long a claim may wait for capacity before it fails. Default 5 minutes. */
  maxPendingMs?: number;
}

export interface ReconcileResult {
  /** Look again after this long even if nothing changes. */
  requeueAfterMs?: number;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
