/**
 * A revision's tree as a manifest: every directory and regular file under /workspace, sorted by
 * path, files named by the sha256 of their bytes. The manifest's own canonical bytes hash to
 * the revision's content digest, so two equal trees have one digest wherever they were made.
 */
import { createHash } from 'node:crypto';
import { MitosError } from '@mitos/protocol';

export interface ManifestFile {
  path: string;
  kind: 'file';
  mode: number;
  size: number;
  digest: string;
}

/** Directories are kept so empty ones survive; their modes are not (hydrate makes them 0755). */
export interface ManifestDir {
  path: string;
  kind: 'dir';
}

export type ManifestEntry = ManifestFile | ManifestDir;

export interface Manifest {
  version: 1;
  entries: ManifestEntry[];
}

export const DIGEST_PATTERN = /^[0-9a-f]{64}$/;

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * A relative path that can only name something below the workspace root: no empty, `.` or `..`
 * segment, no leading or trailing slash, no NUL, no control characters.
 */
export function isSafeRelativePath(path: string): boolean {
  if (path === '' || path.length > 4000 || path.startsWith('/') || path.endsWith('/')) return false;
  if (/[\u0000-\u001f\u007f]/.test(path)) return false;
  return path.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

/** Sorted, validated, and with each file's digest well-formed; throws on anything else. */
export function normalizeManifest(entries: ManifestEntry[]): Manifest {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  let previous = '';
  for (const entry of sorted) {
    if (!isSafeRelativePath(entry.path) || entry.path === previous) {
      throw new MitosError('internal', `manifest entry ${JSON.stringify(entry.path)} is not a safe unique path`);
    }
    if (entry.kind === 'file' && !DIGEST_PATTERN.test(entry.digest)) {
      throw new MitosError('internal', `manifest entry ${JSON.stringify(entry.path)} has a malformed digest`);
    }
    previous = entry.path;
  }
  return { version: 1, entries: sorted };
}

/** Canonical bytes: fixed key order, one entry per line. */
export function encodeManifest(manifest: Manifest): Buffer {
  const lines = manifest.entries.map((e) =>
    e.kind === 'file'
      ? JSON.stringify({ path: e.path, kind: e.kind, mode: e.mode, size: e.size, digest: e.digest })
      : JSON.stringify({ path: e.path, kind: e.kind }),
  );
  return Buffer.from(`mitos-workspace-manifest 1\n${lines.join('\n')}\n`, 'utf8');
}

export function decodeManifest(bytes: Buffer): Manifest {
  const [header, ...lines] = bytes.toString('utf8').split('\n');
  if (header !== 'mitos-workspace-manifest 1') throw new MitosError('internal', 'not a workspace manifest');
  const entries = lines.filter((l) => l !== '').map((l) => JSON.parse(l) as ManifestEntry);
  return normalizeManifest(entries);
}

export function manifestDigest(manifest: Manifest): string {
  return sha256(encodeManifest(manifest));
}

export interface TreeDiff {
  added: string[];
  removed: string[];
  modified: string[];
}

/** Paths of `next` compared with `base`: a file whose digest or mode changed is modified. */
export function diffManifests(base: Manifest | undefined, next: Manifest): TreeDiff {
  const before = new Map((base?.entries ?? []).map((e) => [e.path, e]));
  const out: TreeDiff = { added: [], removed: [], modified: [] };
  const seen = new Set<string>();
  for (const entry of next.entries) {
    seen.add(entry.path);
    const old = before.get(entry.path);
    if (old === undefined) out.added.push(entry.path);
    else if (old.kind !== entry.kind) out.modified.push(entry.path);
    else if (old.kind === 'file' && entry.kind === 'file' && (old.digest !== entry.digest || old.mode !== entry.mode)) {
      out.modified.push(entry.path);
    }
  }
  for (const path of before.keys()) if (!seen.has(path)) out.removed.push(path);
  return out;
}

export function fileDigests(manifest: Manifest): string[] {
  return manifest.entries.flatMap((e) => (e.kind === 'file' ? [e.digest] : []));
}
