/**
 * OCI layers unpacked once per chain and shared on disk. The tree after layers 1..n is an
 * image of its own, keyed by the chain of layer blob digests (skopeo verified each blob against
 * its digest when it wrote the layout, so a key always names the bytes it was made from); layer
 * n+1 is applied to a writable btrfs snapshot of it. Two images with the same base therefore
 * share the base's subvolume and extents, and the second pull unpacks only its own layers.
 *
 * A layer is extracted by GNU tar into an empty scratch directory inside the new subvolume
 * (tar refuses `..` names and defers links that point out of the tree it makes), shifted into
 * the sandbox uid range there, and then merged by rename: whiteouts (`.wh.<name>`) and opaque
 * markers (`.wh..wh..opq`) remove lower entries first, and the merge walks only real
 * directories (lstat), so a symlink of a lower layer is never followed (a layer directory over
 * one is refused, and the image unpacked whole).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  type Stats,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { shiftOwnership } from '../uid-shift.js';

const execFileAsync = promisify(execFile);
const LAYER_FORMAT_VERSION = 1;
const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

export interface LayerRef {
  digest: string;
  mediaType?: string;
}

/** Image key of the tree after each layer in turn (chain keys, base first). */
export function chainKeys(layers: readonly LayerRef[], uidBase: number): string[] {
  let chain = '';
  return layers.map((layer) => {
    chain = createHash('sha256').update(`${chain}\0${layer.digest}`).digest('hex');
    const key = createHash('sha256').update(`chain\0${chain}\0${uidBase}\0v${LAYER_FORMAT_VERSION}`).digest('hex');
    return `chain-${key}`;
  });
}

/** Layer media types tar can read (plain, gzip, zstd); foreign or encrypted layers are not. */
export function tarLayer(layer: LayerRef): boolean {
  const type = layer.mediaType ?? '';
  return /^application\/vnd\.(oci\.image\.layer\.v1\.tar(\+gzip|\+zstd)?|docker\.image\.rootfs\.diff\.tar\.gzip)$/.test(
    type,
  );
}

function blobPath(layout: string, digest: string): string {
  const [algo, hex] = digest.split(':');
  if (algo !== 'sha256' || !/^[0-9a-f]{64}$/.test(hex ?? '')) throw new Error(`unexpected digest ${digest}`);
  return join(layout, 'blobs', 'sha256', hex as string);
}

/** Apply one layer blob of `layout` onto `target` (the writable snapshot of the chain below it). */
export async function applyLayer(layout: string, layer: LayerRef, target: string, uidBase: number): Promise<void> {
  const scratch = join(target, `.mitos-layer-${randomBytes(8).toString('hex')}`);
  mkdirSync(scratch, { mode: 0o700 });
  try {
    // GNU tar detects the compression itself (gzip, zstd) when it reads a file.
    await execFileAsync(
      'tar',
      [
        '-x',
        '-f',
        blobPath(layout, layer.digest),
        '-C',
        scratch,
        '--numeric-owner',
        '--same-owner',
        '--same-permissions',
        '--xattrs',
        '--xattrs-include=*',
      ],
      { timeout: 30 * 60_000, maxBuffer: 16 << 20 },
    ).catch((err: { stderr?: string; message?: string }) => {
      throw new Error(`tar: ${(err.stderr || err.message || '').trim().split('\n').slice(-3).join(' ')}`);
    });
    shiftOwnership(scratch, uidBase);
    mergeLayer(scratch, target, scratch);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Move the entries of the extracted layer `from` into `to`, applying its whiteouts to what `to`
 * held before. `skip` (the scratch directory itself) is never touched.
 */
export function mergeLayer(from: string, to: string, skip?: string): void {
  const names = readdirSync(from);
  if (names.includes(OPAQUE)) {
    for (const name of readdirSync(to)) {
      const path = join(to, name);
      if (path !== skip) rmSync(path, { recursive: true, force: true });
    }
  }
  for (const name of names) {
    if (!name.startsWith(WHITEOUT) || name === OPAQUE) continue;
    const path = join(to, name.slice(WHITEOUT.length));
    if (path !== skip && name.length > WHITEOUT.length) rmSync(path, { recursive: true, force: true });
  }
  for (const name of names) {
    if (name.startsWith(WHITEOUT)) continue;
    const src = join(from, name);
    const dst = join(to, name);
    if (dst === skip) continue;
    const source = lstatSync(src);
    const existing = lstatOrUndefined(dst);
    if (source.isDirectory() && existing?.isDirectory()) {
      mergeLayer(src, dst);
      // The layer's own entry for a directory carries its owner, mode and times.
      lchownSync(dst, source.uid, source.gid);
      chmodSync(dst, source.mode & 0o7777);
      utimesSync(dst, source.atime, source.mtime);
      rmSync(src, { recursive: true, force: true });
      continue;
    }
    if (source.isDirectory() && existing?.isSymbolicLink()) {
      // Whether the layer replaces the link (its own entry for the directory) or writes through
      // it (an implied parent, which appliers resolve inside the tree) the extracted tree cannot
      // tell; the caller unpacks such an image whole instead.
      throw new Error(`layer writes under ${name}, a symbolic link in the layer below`);
    }
    if (existing) rmSync(dst, { recursive: true, force: true });
    renameSync(src, dst);
  }
}

/** Chain keys an OCI image was made from, recorded beside the layout (read by prune). */
function chainsFile(dir: string, imageKey: string): string {
  return join(dir, 'oci', 'chains', `${imageKey}.json`);
}

export function recordChains(dir: string, imageKey: string, chains: readonly string[]): void {
  mkdirSync(join(dir, 'oci', 'chains'), { recursive: true, mode: 0o700 });
  const tmp = `${chainsFile(dir, imageKey)}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(chains));
  renameSync(tmp, chainsFile(dir, imageKey));
}

export function recordedChains(dir: string, imageKey: string): string[] {
  try {
    const parsed = JSON.parse(readFileSync(chainsFile(dir, imageKey), 'utf8')) as unknown;
    return Array.isArray(parsed) ? parsed.filter((k): k is string => typeof k === 'string') : [];
  } catch {
    return [];
  }
}
