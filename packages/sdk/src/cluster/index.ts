/**
 * Cluster mode: sandboxes as Kubernetes objects (SandboxClaim, SandboxFork, SandboxPool,
 * SandboxTemplate) served by the mitos controller and node daemons. Needs the optional peer
 * dependency @kubernetes/client-node (loaded only when cluster mode is used).
 * @module
 */
export { AgentRun, type AgentRunOptions, type ClusterSandboxOptions } from './agent-run.js';
export { type ClusterApi, ClusterApiError, type KubeObjectLike, type MitosPlural } from './api.js';
export {
  ClusterSandbox,
  type ClusterSandboxInfo,
  type ForkOptions as ClusterForkOptions,
  type WaitOptions as ClusterWaitOptions,
} from './cluster-sandbox.js';
export { DEFAULT_POOL_PREFIX, defaultPoolName } from './pool-name.js';
