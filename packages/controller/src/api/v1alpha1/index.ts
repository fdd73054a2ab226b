/**
 * The mitos.run/v1alpha1 API: the TypeScript types the controller reads and writes, and the
 * source the CRD generator turns into deploy/crds/*.yaml (`npm run -w @mitos/controller gen:crds`).
 * @module
 */
export * from './sandbox-claim.js';
export * from './sandbox-fork.js';
export * from './sandbox-pool.js';
export * from './sandbox-template.js';
export * from './shared.js';
export * from './workspace.js';

/** Kind files the generator reads, relative to this directory, in output order. */
export const KIND_SOURCES = [
  'sandbox-template.ts',
  'sandbox-pool.ts',
  'sandbox-claim.ts',
  'sandbox-fork.ts',
  'workspace.ts',
] as const;
