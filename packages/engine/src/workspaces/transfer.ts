/**
 * A /workspace moved between a sandbox and a shared store, with no catalog: what a node daemon
 * in a cluster does for a claim bound to a Workspace. The controller keeps the records
 * (WorkspaceRevision objects naming manifest digests); the node only hydrates a manifest into a
 * sandbox and captures one out of it, both through the sandbox's own agent (tree.ts).
 */
import { MitosError } from '@mitos/protocol';
import type { SandboxFiles } from '../engine.js';
import type { BlobStore } from './blob-store.js';
import { decodeManifest, diffManifests, encodeManifest, isSafeRelativePath, type TreeDiff } from './manifest.js';
import { captureTree, DEFAULT_TREE_LIMITS, hydrateTree, type TreeLimits, WORKSPACE_ROOT } from './tree.js';

/** Writes the tree of manifest `digest` into the sandbox's /workspace (null: an empty one). */
export async function hydrateFromStore(
  files: SandboxFiles,
  sandboxId: string,
  store: BlobStore,
  digest: string | null,
): Promise<{ files: number }> {
  if (digest === null) {
    await files.mkdir(sandboxId, WORKSPACE_ROOT);
    return { files: 0 };
  }
  const manifest = decodeManifest(await store.get(digest));
  await hydrateTree(files, sandboxId, store, manifest);
  return { files: manifest.entries.filter((e) => e.kind === 'file').length };
}

export interface CaptureOptions {
  /** Paths (absolute under /workspace, or relative to it) to narrow the capture to. */
  paths?: readonly string[];
  /** The manifest this capture descends from; its diff is reported against it. */
  parent?: string | null;
  limits?: Partial<TreeLimits>;
}

export interface CapturedRevision {
  /** sha256 of the canonical manifest, under which the manifest is stored. */
  digest: string;
  /** False when the tree equals the parent's. */
  changed: boolean;
  files: number;
  bytes: number;
  skipped: string[];
  diff: TreeDiff;
}

/** Stores the sandbox's /workspace (or the `paths` in it) and its manifest; returns the digest and diff. */
export async function captureToStore(
  files: SandboxFiles,
  sandboxId: string,
  store: BlobStore,
  options: CaptureOptions = {},
): Promise<CapturedRevision> {
  const paths = options.paths?.map(scopePath);
  // An empty path is /workspace itself: the whole tree.
  const scope = paths && paths.length > 0 && !paths.includes('') ? paths : undefined;
  const limits = { ...DEFAULT_TREE_LIMITS, ...options.limits };
  const captured = await captureTree(files, sandboxId, store, limits, undefined, () => {}, scope);
  const digest = await store.put(encodeManifest(captured.manifest));
  const parent = options.parent ? decodeManifest(await store.get(options.parent)) : undefined;
  return {
    digest,
    changed: digest !== options.parent,
    files: captured.manifest.entries.filter((e) => e.kind === 'file').length,
    bytes: captured.bytes,
    skipped: captured.skipped,
    diff: diffManifests(parent, captured.manifest),
  };
}

/** `/workspace/src`, `src/` and `./src` all name `src`; anything outside /workspace is refused. */
function scopePath(path: string): string {
  const inside = path.startsWith(`${WORKSPACE_ROOT}/`) ? path.slice(WORKSPACE_ROOT.length + 1) : path;
  const relative = inside.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  if (path === WORKSPACE_ROOT || relative === '' || relative === '.') return '';
  if (path.startsWith('/') && !path.startsWith(`${WORKSPACE_ROOT}/`)) throw outside(path);
  if (!isSafeRelativePath(relative)) throw outside(path);
  return relative;
}

function outside(path: string): MitosError {
  return new MitosError('invalid_request', `output path ${JSON.stringify(path)} is not inside /workspace`, { path });
}
