/**
 * Moving a /workspace tree between a sandbox and the blob store. Every byte goes through the
 * sandbox's own agent, which runs inside the sandbox's namespaces as its unprivileged root: a
 * symlink or `..` in the tree resolves within the sandbox, never on the host. What comes out is
 * untrusted: only directories and regular files are captured (symlinks, devices, sockets and
 * FIFOs are skipped and reported), every path is checked, and sizes are capped before and after
 * reading. The host store is written only under digests the host computed itself.
 */

import { MitosError } from '@mitos/protocol';
import type { FileStat, SandboxFiles } from '../engine.js';
import type { BlobStore } from './blob-store.js';
import { isSafeRelativePath, type Manifest, type ManifestEntry, normalizeManifest, sha256 } from './manifest.js';

export const WORKSPACE_ROOT = '/workspace';

export interface TreeLimits {
  /** Largest single file a revision may hold. */
  maxFileBytes: number;
  /** Total bytes of files in one revision. */
  maxTotalBytes: number;
  /** Files and directories in one revision. */
  maxEntries: number;
}

export const DEFAULT_TREE_LIMITS: TreeLimits = {
  maxFileBytes: 256 * 1024 * 1024,
  maxTotalBytes: 2 * 1024 * 1024 * 1024,
  maxEntries: 200_000,
};

/**
 * What the last hydrate or commit saw of each file (size, mtime, digest): a file whose size
 * and mtime are unchanged is not read again, as git's index does. Only a sandbox's own earlier
 * digests are reused, so a sandbox that fakes mtimes can only hide its own edits from itself.
 */
export interface StatCache {
  /** Host time (ms) at which the listing behind this cache began. */
  takenAt: number;
  files: Map<string, { size: number; mtimeMs: number; digest: string }>;
}

interface Walked {
  path: string;
  stat: FileStat;
}

/** Every entry below /workspace (lstat semantics per entry), breadth first; only `scope` when given. */
async function walk(
  files: SandboxFiles,
  sandboxId: string,
  limits: TreeLimits,
  skipped: string[],
  scope?: readonly string[],
): Promise<Walked[]> {
  const out: Walked[] = [];
  const queue: string[] = [''];
  while (queue.length > 0) {
    const dir = queue.shift() as string;
    const entries = await files
      .list(sandboxId, dir === '' ? WORKSPACE_ROOT : `${WORKSPACE_ROOT}/${dir}`)
      .catch((err) => {
        // A directory removed while we walk is simply not in this revision.
        if (err instanceof MitosError && err.code === 'not_found') return [] as FileStat[];
        throw err;
      });
    for (const stat of entries) {
      const path = dir === '' ? stat.name : `${dir}/${stat.name}`;
      if (!isSafeRelativePath(path) || stat.name.includes('/')) {
        skipped.push(JSON.stringify(path));
        continue;
      }
      if (scope && !inScope(path, stat.kind === 'dir', scope)) continue;
      if (stat.kind !== 'file' && stat.kind !== 'dir') {
        skipped.push(path);
        continue;
      }
      if (out.length >= limits.maxEntries) {
        throw tooLarge(`more than ${limits.maxEntries} files and directories`, path, limits);
      }
      out.push({ path, stat });
      if (stat.kind === 'dir') queue.push(path);
    }
  }
  return out;
}

/** Inside one of the scope's subtrees, or a directory on the way to one. */
function inScope(path: string, isDir: boolean, scope: readonly string[]): boolean {
  return scope.some((s) => path === s || path.startsWith(`${s}/`) || (isDir && s.startsWith(`${path}/`)));
}

function tooLarge(what: string, path: string, limits: TreeLimits): MitosError {
  return new MitosError('workspace_too_large', `/workspace has ${what}`, {
    path,
    max_file_bytes: limits.maxFileBytes,
    max_total_bytes: limits.maxTotalBytes,
    max_entries: limits.maxEntries,
  });
}

/** Runs `fn` over `items` with at most `width` in flight. */
async function parallel<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

export interface Captured {
  manifest: Manifest;
  skipped: string[];
  bytes: number;
  cache: StatCache;
}

/** Reads the sandbox's /workspace into the store and returns its manifest. */
export async function captureTree(
  files: SandboxFiles,
  sandboxId: string,
  store: BlobStore,
  limits: TreeLimits,
  previous: StatCache | undefined,
  /** Called with each digest before it is stored, so garbage collection keeps it. */
  pin: (digest: string) => void,
  /** Only these subtrees (relative to /workspace) and the directories leading to them. */
  scope?: readonly string[],
): Promise<Captured> {
  const takenAt = Date.now();
  const skipped: string[] = [];
  const walked = await walk(files, sandboxId, limits, skipped, scope);
  let total = 0;
  for (const { path, stat } of walked) {
    if (stat.kind !== 'file') continue;
    if (stat.size > limits.maxFileBytes) throw tooLarge(`a file of ${stat.size} bytes`, path, limits);
    total += stat.size;
    if (total > limits.maxTotalBytes) throw tooLarge(`more than ${limits.maxTotalBytes} bytes of files`, path, limits);
  }
  const entries: ManifestEntry[] = [];
  const cache: StatCache = { takenAt, files: new Map() };
  let bytes = 0;
  const fileEntries = walked.filter((w) => w.stat.kind === 'file');
  for (const w of walked) if (w.stat.kind === 'dir') entries.push({ path: w.path, kind: 'dir' });
  await parallel(fileEntries, 8, async ({ path, stat }) => {
    const known = previous?.files.get(path);
    let digest: string;
    let size = stat.size;
    if (
      previous &&
      known &&
      known.size === stat.size &&
      known.mtimeMs === stat.mtimeMs &&
      stat.mtimeMs < previous.takenAt
    ) {
      digest = known.digest;
    } else {
      let data: Buffer;
      try {
        data = await files.read(sandboxId, `${WORKSPACE_ROOT}/${path}`);
      } catch (err) {
        // Removed, or swapped for something that is not a regular file, since the listing.
        if (err instanceof MitosError && (err.code === 'not_found' || err.code === 'file_failed')) {
          skipped.push(path);
          return;
        }
        throw err;
      }
      // The file may have grown since it was listed: the cap holds on what was read.
      if (data.length > limits.maxFileBytes) throw tooLarge(`a file of ${data.length} bytes`, path, limits);
      size = data.length;
      digest = sha256(data);
      pin(digest);
      await store.put(data);
    }
    bytes += size;
    if (bytes > limits.maxTotalBytes) throw tooLarge(`more than ${limits.maxTotalBytes} bytes of files`, path, limits);
    entries.push({ path, kind: 'file', mode: stat.mode & 0o777, size, digest });
    cache.files.set(path, { size: stat.size, mtimeMs: stat.mtimeMs, digest });
  });
  return { manifest: normalizeManifest(entries), skipped: skipped.sort(), bytes, cache };
}

/** Empties the sandbox's /workspace (what is inside it, not the directory). */
export async function clearTree(files: SandboxFiles, sandboxId: string): Promise<void> {
  await files.mkdir(sandboxId, WORKSPACE_ROOT);
  for (const entry of await files.list(sandboxId, WORKSPACE_ROOT)) {
    await files.remove(sandboxId, `${WORKSPACE_ROOT}/${entry.name}`);
  }
}

/** Writes a manifest's tree into the sandbox's /workspace and returns the stat cache of it. */
export async function hydrateTree(
  files: SandboxFiles,
  sandboxId: string,
  store: BlobStore,
  manifest: Manifest,
): Promise<StatCache> {
  await files.mkdir(sandboxId, WORKSPACE_ROOT);
  for (const entry of manifest.entries) {
    if (entry.kind === 'dir') await files.mkdir(sandboxId, `${WORKSPACE_ROOT}/${entry.path}`);
  }
  const fileEntries = manifest.entries.filter((e) => e.kind === 'file');
  await parallel(fileEntries, 8, async (entry) => {
    await files.write(sandboxId, `${WORKSPACE_ROOT}/${entry.path}`, await store.get(entry.digest), entry.mode);
  });
  // Listing after the writes gives the cache the sizes and mtimes the sandbox now has.
  const takenAt = Date.now();
  const byPath = new Map(fileEntries.map((e) => [e.path, e]));
  const cache: StatCache = { takenAt, files: new Map() };
  for (const { path, stat } of await walk(files, sandboxId, DEFAULT_TREE_LIMITS, [])) {
    const entry = byPath.get(path);
    if (entry && stat.kind === 'file' && stat.size === entry.size) {
      cache.files.set(path, { size: stat.size, mtimeMs: stat.mtimeMs, digest: entry.digest });
    }
  }
  return cache;
}
