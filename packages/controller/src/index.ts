/**
 * @mitos/controller: mitos on Kubernetes. The mitos.run/v1alpha1 types, the controller loop
 * (`runController`), the node daemon (`startNodeDaemon`) and the Kubernetes plumbing they share.
 * The binaries are `mitos-controller` and `mitos-node`; the SDK side is `AgentRun` in @mitos/sdk.
 *
 * @example
 * const kube = kubeClientFrom(process.env.KUBECONFIG);
 * await runController({ kube, namespace: 'mitos-system', nodeKey, log }, signal);
 * @module
 */
export * from './api/group.js';
export type * from './api/meta.js';
export type * from './api/scalars.js';
export * from './api/v1alpha1/index.js';
export type { ControllerContext, Logger, ReconcileResult } from './controller/context.js';
export { type ControllerOptions, LEADER_LEASE_NAME, runController } from './controller/manager.js';
export { HttpNodeApi, type NodeApi, NodeCallError } from './controller/node-client.js';
export type { NodeView } from './controller/nodes.js';
export { isConflict, isGone, isNotFound, KubeApiError, type KubeClient } from './kube/client.js';
export { kubeClientFrom, loadKubeConfig } from './kube/config.js';
export { Informer } from './kube/informer.js';
export { LeaderElector } from './kube/leader-election.js';
export { RestKubeClient } from './kube/rest-client.js';
export { WorkQueue } from './kube/work-queue.js';
// The node daemon's parts, for embedding it and for the hardening suite's attacks on them.
export { createControlApi } from './node/control-api.js';
export { type NodeDaemonOptions, type RunningNodeDaemon, startNodeDaemon } from './node/daemon.js';
export { SandboxLedger } from './node/ledger.js';
export { NodeSandboxes, type TemplateRecipe, type TemplateReport } from './node/node-sandboxes.js';
export { TemplateTransfer } from './node/template-transfer.js';
