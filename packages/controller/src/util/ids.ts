/**
 * Sandbox ids on a node must match the engine's id rule; Kubernetes names are longer and may
 * contain dots, so they are folded into that alphabet here.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';

export const SANDBOX_ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$/;

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/**
 * The node id of the sandbox behind object `name` in `namespace`: a folded prefix of the name
 * (readable in logs) plus a hash of namespace and name. Deterministic, so a retried reconcile
 * addresses the same sandbox; unique per namespace, so two tenants using the same claim or fork
 * name on one node never collide.
 */
export function sandboxIdFor(namespace: string, name: string): string {
  const folded = name
    .replace(/[^a-zA-Z0-9_-]+/g, '-')
    .replace(/^[^a-zA-Z0-9]+/, '')
    .slice(0, 53);
  const hash = createHash('sha256').update(`${namespace}/${name}`).digest('hex').slice(0, 10);
  return `${folded || 'sandbox'}-${hash}`;
}

/** A fresh id for a warm sandbox of `pool`. */
export function warmSandboxId(pool: string): string {
  const folded = pool
    .replace(/[^a-zA-Z0-9_-]+/g, '-')
    .replace(/^[^a-zA-Z0-9]+/, '')
    .slice(0, 48);
  return `${folded || 'pool'}-w${randomHex(4)}`;
}

/**
 * The engine template a base image runs on. Template ids follow the sandbox id rule, so
 * `python:3.12-slim` becomes `python-3-12-slim` (the engine maps ids onto its image catalogue).
 */
export function templateIdFor(image: string): string {
  const folded = image
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .replace(/-+$/, '')
    .slice(0, 64);
  return folded || 'base';
}
