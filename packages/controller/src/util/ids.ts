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
 * `name` itself when it is a valid id, else a folded prefix plus a hash of the whole name:
 * deterministic, so a retried reconcile addresses the same sandbox.
 */
export function sandboxIdFor(name: string): string {
  if (SANDBOX_ID_PATTERN.test(name)) return name;
  const folded = name
    .replace(/[^a-zA-Z0-9_-]+/g, '-')
    .replace(/^[^a-zA-Z0-9]+/, '')
    .slice(0, 52);
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
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
