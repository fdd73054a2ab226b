/**
 * Built-in images (python, node, base and their layers) between nodes. A built-in is not a
 * template row to export but a finished tree in the engine's build cache: the holder archives
 * that tree (one tar layer) with its build metadata as the config blob, in the same
 * digest-named layout template-transfer.ts serves and fetches; the receiver installs it into its
 * own cache (shifted into its uid range) and prepares the template by the normal built-in path,
 * which then finds the tree and runs no build step.
 * @module
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BuildMetadata, Engine } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import { z } from 'zod';

/** The config blob's media type: the holder's build metadata, not an OCI image config. */
export const BUILT_IMAGE_CONFIG = 'application/vnd.mitos.built-image.config.v1+json';
const LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar';
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';

/** The holder's build metadata, as this node will record it (unknown fields dropped). */
const Metadata = z.object({
  key: z.string().regex(/^[0-9a-f]{64}$/),
  image: z.string().max(64),
  suite: z.string().max(64),
  variant: z.string().max(64),
  packages: z.array(z.string().max(256)).max(4096),
  from: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  uidBase: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 65_536),
  builderVersion: z.number().int(),
  mirror: z.string().max(1024),
  builtAt: z.string().max(64),
  bootstrapMs: z.number(),
  shiftMs: z.number(),
  totalMs: z.number(),
  entries: z.number().int(),
  bytes: z.number(),
}) satisfies z.ZodType<BuildMetadata>;

interface Descriptor {
  mediaType?: string | undefined;
  digest: string;
  size: number;
}

/** Archives the engine's cached tree of built-in `templateId` into `layout`; returns the manifest digest. */
export async function exportBuiltIn(engine: Engine, templateId: string, layout: string): Promise<{ digest: string }> {
  const cache = engine.builtImages;
  if (!cache) throw new MitosError('not_implemented', `the ${engine.name} engine cannot export built-in images`);
  const blobs = join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true, mode: 0o700 });
  const tar = join(layout, 'tree.tar');
  const meta = await cache.archive(templateId, tar);
  const hash = createHash('sha256');
  await pipeline(createReadStream(tar), hash);
  const layerHex = hash.digest('hex');
  const layer = { mediaType: LAYER_TYPE, digest: `sha256:${layerHex}`, size: statSync(tar).size };
  renameSync(tar, join(blobs, layerHex));
  const config = { mediaType: BUILT_IMAGE_CONFIG, ...writeBlob(blobs, JSON.stringify(meta)) };
  const manifest = { schemaVersion: 2, mediaType: MANIFEST_TYPE, config, layers: [layer] };
  return { digest: writeBlob(blobs, JSON.stringify(manifest)).digest };
}

/**
 * Installs the built-in a fetched layout holds (every blob already checked against its digest)
 * into the engine's cache, then prepares its template: the built-in path finds the tree.
 */
export async function installBuiltIn(
  engine: Engine,
  templateId: string,
  layout: string,
  manifest: { config: Descriptor; layers: Descriptor[] },
  origin: string,
): Promise<void> {
  const cache = engine.builtImages;
  if (!cache) throw new MitosError('not_implemented', `the ${engine.name} engine cannot install built-in images`);
  const refuse = (detail: string) =>
    new MitosError(
      'template_build_failed',
      `fetching built-in ${templateId} from ${origin}: ${detail}`,
      { template: templateId },
      { remediation: 'the controller fetches it from another node or builds it on this node' },
    );
  const [layer] = manifest.layers;
  if (manifest.config.mediaType !== BUILT_IMAGE_CONFIG || manifest.layers.length !== 1 || !layer)
    throw refuse('the manifest is not a built image (one config of build metadata, one tree layer)');
  let meta: BuildMetadata;
  try {
    meta = Metadata.parse(JSON.parse(readFileSync(blobPath(layout, manifest.config.digest), 'utf8')));
  } catch (err) {
    throw refuse(`its build metadata is not valid: ${(err as Error).message}`);
  }
  await cache.install(templateId, blobPath(layout, layer.digest), meta, origin);
  await engine.ensureTemplate({ id: templateId });
}

/** Where the blob of `digest` (sha256:…) lives in an OCI layout on disk. */
export function blobPath(layout: string, digest: string): string {
  return join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

function writeBlob(blobs: string, text: string): { digest: string; size: number } {
  const bytes = Buffer.from(text);
  const hex = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(blobs, hex), bytes, { mode: 0o600 });
  return { digest: `sha256:${hex}`, size: bytes.length };
}
