/**
 * Names shared by the controller, the node daemon and the SDK: the API group, and the labels,
 * annotations and finalizers they put on objects (crd-v1.md sections 5-10).
 * @module
 */

export const GROUP = 'mitos.run';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const FINALIZER_CLAIM = 'mitos.run/forkd-terminate';
/** Forks hold sandboxes on a node (not Kubernetes objects), so they need a finalizer too. */
export const FINALIZER_FORK = 'mitos.run/fork-terminate';
/** Releases a pool's warm sandboxes on every node before the pool goes. */
export const FINALIZER_POOL = 'mitos.run/pool-drain';

export const ANNOTATION_CAPACITY_PENDING_SINCE = 'mitos.run/capacity-pending-since';

/** Labels on node registration Leases. */
export const LABEL_COMPONENT = 'app.kubernetes.io/component';
export const COMPONENT_NODE = 'mitos-node';
export const LABEL_NODE = 'mitos.run/node';

/** Annotations on node registration Leases. */
export const ANNOTATION_NODE_SANDBOX_ENDPOINT = 'mitos.run/sandbox-endpoint';
export const ANNOTATION_NODE_CONTROL_ENDPOINT = 'mitos.run/control-endpoint';
export const ANNOTATION_NODE_CAPACITY = 'mitos.run/capacity';

/** Labels on token Secrets, so a sweep can find them. */
export const LABEL_TOKEN_FOR = 'mitos.run/sandbox-token-for';

export const TOKEN_SECRET_SUFFIX = '-sandbox-token';

export function tokenSecretName(handleName: string): string {
  return `${handleName}${TOKEN_SECRET_SUFFIX}`;
}

/** On SandboxForks: the claim they copy, so the claim's finalizer can find them by label. */
export const LABEL_SOURCE_CLAIM = 'mitos.run/source-claim';

/**
 * On fork-child SandboxClaims: the SandboxFork that made them. The claim reconciler leaves such
 * a claim to the fork reconciler (its sandbox is a live copy, not taken from the pool); what makes
 * a claim a child is the fork's controller ownerReference, the label is for listing.
 */
export const LABEL_FORK = 'mitos.run/fork';

/** On WorkspaceRevisions: the workspace they belong to (crd-v1.md 7.2). */
export const LABEL_WORKSPACE = 'mitos.run/workspace';

/** On WorkspaceRevisions a claim's terminate made: that claim's uid (crd-v1.md 7.2). */
export const LABEL_FROM_CLAIM_UID = 'mitos.run/from-claim-uid';
/** On bound claims: the head revision hydrated into /workspace ("" for none). */
export const ANNOTATION_WORKSPACE_HYDRATED_HEAD = 'mitos.run/workspace-hydrated-head';
/** On bound claims: the terminate capture is done (the revision it made, or "" for none). */
export const ANNOTATION_WORKSPACE_DEHYDRATED = 'mitos.run/workspace-dehydrated';
