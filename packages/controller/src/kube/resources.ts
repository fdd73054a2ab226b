/**
 * The resource types the controller and node daemon touch, with what a REST path needs.
 * @module
 */
import { GROUP, VERSION } from '../api/group.js';

export interface ResourceType {
  /** Empty for the core group. */
  group: string;
  version: string;
  plural: string;
  kind: string;
}

function mitos(kind: string, plural: string): ResourceType {
  return { group: GROUP, version: VERSION, plural, kind };
}

export const SANDBOX_TEMPLATES = mitos('SandboxTemplate', 'sandboxtemplates');
export const SANDBOX_POOLS = mitos('SandboxPool', 'sandboxpools');
export const SANDBOX_CLAIMS = mitos('SandboxClaim', 'sandboxclaims');
export const SANDBOX_FORKS = mitos('SandboxFork', 'sandboxforks');
export const WORKSPACES = mitos('Workspace', 'workspaces');
export const WORKSPACE_REVISIONS = mitos('WorkspaceRevision', 'workspacerevisions');
export const SECRETS: ResourceType = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret' };
export const LEASES: ResourceType = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease' };

export function apiVersionOf(type: ResourceType): string {
  return type.group === '' ? type.version : `${type.group}/${type.version}`;
}

/** Collection path, e.g. /apis/mitos.run/v1alpha1/namespaces/ns/sandboxclaims. */
export function collectionPath(type: ResourceType, namespace: string | undefined): string {
  const base = type.group === '' ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`;
  const ns = namespace === undefined ? '' : `/namespaces/${encodeURIComponent(namespace)}`;
  return `${base}${ns}/${type.plural}`;
}

export function objectPath(type: ResourceType, namespace: string, name: string): string {
  return `${collectionPath(type, namespace)}/${encodeURIComponent(name)}`;
}
