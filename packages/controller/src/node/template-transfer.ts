/**
 * Node-to-node template transfer: a template prepared on one node reaches another without being
 * rebuilt there. The holder exports the template once as an OCI image layout (one layer, made by
 * umoci, so every blob is named by its sha256) and serves its blobs on the control API behind the
 * node key. The fetching node is told the manifest digest by the controller, downloads the
 * manifest and each blob it names, checks every one against its digest while it streams (a blob
 * that does not match is fetched again, then refused), and imports the layout without running a
 * build step. Nothing is trusted by where it came from: only by its digest.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Engine } from '@mitos/engine';
import { MitosError, postureFromRequest } from '@mitos/protocol';
import { z } from 'zod';
import { isBuiltInImage } from '../util/built-ins.js';
import { templateIdFor } from '../util/ids.js';
import { blobPath, exportBuiltIn, installBuiltIn } from './builtin-images.js';
import type { TemplateRecipe } from './node-sandboxes.js';

export const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;
/** The image keys the controller names templates by (a built-in name, or `spec-<digest>`). */
export const TEMPLATE_IMAGE_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
const MANIFEST_MAX_BYTES = 1 << 20;
const BLOB_MAX_BYTES = 64 * 1024 ** 3;
const ATTEMPTS = 3;
const EXPORT_RETRY_MS = 30_000;
const REF_NAME = 'org.opencontainers.image.ref.name';

/** Where a node fetches a template from: a holder's control endpoint and the manifest digest it exported. */
export interface TemplateFetch {
  endpoint: string;
  digest: string;
}

export type ExportState = { state: 'exporting' } | { state: 'ready'; digest: string };

const Descriptor = z.object({
  mediaType: z.string().optional(),
  digest: z.string().regex(DIGEST_PATTERN),
  size: z.number().int().min(0).max(BLOB_MAX_BYTES),
});
const Manifest = z.object({ config: Descriptor, layers: z.array(Descriptor).min(1).max(256) });

export class TemplateTransfer {
  readonly #exports = new Map<string, Promise<{ digest: string }>>();
  readonly #state = new Map<string, ExportState>();
  readonly #progress = new Map<string, { bytes: number; totalBytes: number }>();
  readonly #exportFailures = new Map<string, { error: string; at: number }>();
  /** Images this node fetched from another node instead of building them (the node reports them). */
  readonly fetched = new Set<string>();

  constructor(
    private readonly engine: Engine,
    /** The node's own scratch directory for exported and fetched layouts. */
    private readonly dir: string,
    private readonly nodeKey: string,
    /** Remove the whole directory on close (a scratch directory of its own, not the node's state). */
    private readonly ownsDir = false,
    private readonly log: (msg: string, fields?: Record<string, unknown>) => void = () => {},
  ) {
    // Layouts a previous process exported are served by nobody (the map starts empty): they go.
    rmSync(join(dir, 'exports'), { recursive: true, force: true });
  }

  /** Bytes fetched so far of the manifest's declared total, while `image` is being fetched. */
  progress(image: string): { bytes: number; totalBytes: number } | undefined {
    const p = this.#progress.get(image);
    return p && { ...p };
  }

  /**
   * Drops the exports of templates this node no longer has ready (deleted, or replaced): their
   * layouts are removed and their blobs no longer served. Returns the images dropped.
   */
  gc(): string[] {
    const dropped: string[] = [];
    for (const image of this.#state.keys()) {
      if (this.#holds(image)) continue;
      this.#state.delete(image);
      this.#exports.delete(image);
      rmSync(this.#exportLayout(image), { recursive: true, force: true });
      dropped.push(image);
    }
    if (dropped.length > 0) this.log('template exports removed', { images: dropped });
    return dropped;
  }

  /**
   * Starts (or reports) the export of the node's ready template `image`; never waits for it (a
   * large tree takes longer than a control call). Once exported, later calls share the layout.
   */
  export(image: string): ExportState {
    this.gc();
    const known = this.#state.get(image);
    if (known) return known;
    // A failed export is said (so the controller turns to another holder), then retried later.
    const failed = this.#exportFailures.get(image);
    if (failed && Date.now() - failed.at < EXPORT_RETRY_MS) {
      throw new MitosError('template_build_failed', `exporting template ${image} failed: ${failed.error}`);
    }
    const id = templateIdFor(image);
    const builds = this.engine.templateBuilds;
    if (!this.#holds(image) || !builds) {
      throw new MitosError('template_not_ready', `template for ${image} is not ready on this node`);
    }
    const layout = this.#exportLayout(image);
    rmSync(layout, { recursive: true, force: true });
    mkdirSync(join(this.dir, 'exports'), { recursive: true, mode: 0o700 });
    const state: ExportState = { state: 'exporting' };
    this.#state.set(image, state);
    // A built-in is its cached tree (any node with it cached can serve it); a spec template its row.
    const pending = isBuiltInImage(image) ? exportBuiltIn(this.engine, id, layout) : builds.exportLayout(id, layout);
    this.#exports.set(image, pending);
    pending.then(
      ({ digest }) => this.#state.set(image, { state: 'ready', digest }),
      (err: unknown) => {
        // Forgotten (the next call after EXPORT_RETRY_MS tries again); the failure is reported till then.
        this.#state.delete(image);
        this.#exports.delete(image);
        this.#exportFailures.set(image, { error: (err as Error).message, at: Date.now() });
        rmSync(layout, { recursive: true, force: true });
        this.log('template export failed', { image, error: (err as Error).message });
      },
    );
    return state;
  }

  /** The host path of a blob of a template this node exported, or undefined. Blobs are named by digest alone. */
  async blob(digest: string): Promise<string | undefined> {
    if (!DIGEST_PATTERN.test(digest)) return undefined;
    for (const [image, exported] of this.#exports) {
      if (
        !(await exported.then(
          () => true,
          () => false,
        ))
      )
        continue;
      const path = blobPath(this.#exportLayout(image), digest);
      if (existsSync(path)) return path;
    }
    return undefined;
  }

  /**
   * Downloads the template a holder exported, checks every blob's digest, and imports it as
   * `image`: a spec template as its row, a built-in into the engine's image cache.
   */
  async fetch(image: string, from: TemplateFetch, recipe: TemplateRecipe): Promise<void> {
    const builds = this.engine.templateBuilds;
    if (!builds) throw new MitosError('not_implemented', `the ${this.engine.name} engine cannot import templates`);
    const layout = join(this.dir, 'fetch', `${image}-${randomBytes(4).toString('hex')}`);
    mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true, mode: 0o700 });
    try {
      const manifestFile = await this.#download(image, from, from.digest, MANIFEST_MAX_BYTES, layout);
      const raw = readFileSync(manifestFile);
      let manifest: z.infer<typeof Manifest>;
      try {
        manifest = Manifest.parse(JSON.parse(raw.toString('utf8')));
      } catch (err) {
        throw transferError(image, `the manifest ${from.digest} is not an image manifest: ${(err as Error).message}`);
      }
      const blobs = [manifest.config, ...manifest.layers];
      const totalBytes = blobs.reduce((n, d) => n + d.size, 0);
      // The declared sizes bound the download: a manifest that would fill the disk is refused up front.
      const fs = statfsSync(layout);
      const free = fs.bavail * fs.bsize;
      if (totalBytes > free)
        throw transferError(image, `its blobs declare ${totalBytes} bytes and this node has ${free} bytes free`);
      const progress = { bytes: 0, totalBytes };
      this.#progress.set(image, progress);
      for (const d of blobs) {
        await this.#download(image, from, d.digest, d.size, layout, progress);
      }
      if (!recipe.spec) {
        if (!isBuiltInImage(image)) throw transferError(image, 'it is neither a built-in nor sent with its spec');
        await installBuiltIn(this.engine, templateIdFor(image), layout, manifest, from.endpoint);
        this.fetched.add(image);
        return;
      }
      writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      const entry = {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: from.digest,
        size: raw.length,
        annotations: { [REF_NAME]: 't' },
      };
      writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [entry] }));
      const network = recipe.network ? postureFromRequest(recipe.network) : undefined;
      await builds.importLayout({
        id: templateIdFor(image),
        layout,
        name: 't',
        spec: recipe.spec,
        ...(network && { network }),
      });
      this.fetched.add(image);
    } finally {
      this.#progress.delete(image);
      rmSync(layout, { recursive: true, force: true });
    }
  }

  close(): void {
    rmSync(this.ownsDir ? this.dir : join(this.dir, 'fetch'), { recursive: true, force: true });
  }

  /** Whether this node can serve `image`: a built-in whose tree it has cached, or a ready template. */
  #holds(image: string): boolean {
    const id = templateIdFor(image);
    if (isBuiltInImage(image)) return this.engine.builtImages?.has(id) === true;
    return this.engine.getTemplate(id)?.ready === true;
  }

  #exportLayout(image: string): string {
    return join(this.dir, 'exports', image);
  }

  /** One blob into the layout, checked against `digest` as it streams; a mismatch is fetched again, then refused. */
  async #download(
    image: string,
    from: TemplateFetch,
    digest: string,
    maxBytes: number,
    layout: string,
    progress?: { bytes: number },
  ) {
    const file = blobPath(layout, digest);
    const url = `http://${from.endpoint}/node/v1/template-blobs/${digest}`;
    let last = '';
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const res = await fetch(url, {
        headers: { authorization: `Bearer ${this.nodeKey}` },
        signal: AbortSignal.timeout(30 * 60_000),
      }).catch((err: Error) => {
        throw transferError(image, `cannot reach ${from.endpoint}: ${err.message}`);
      });
      if (!res.ok || !res.body) {
        await res.body?.cancel();
        throw transferError(image, `${from.endpoint} answered ${res.status} for blob ${digest}`);
      }
      const hash = createHash('sha256');
      let size = 0;
      const before = progress?.bytes ?? 0;
      const meter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          size += chunk.length;
          if (progress) progress.bytes = before + size;
          if (size > maxBytes) return done(transferError(image, `blob ${digest} is larger than ${maxBytes} bytes`));
          hash.update(chunk);
          done(null, chunk);
        },
      });
      await pipeline(
        Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
        meter,
        createWriteStream(file, { mode: 0o600 }),
      );
      const got = `sha256:${hash.digest('hex')}`;
      if (got === digest) return file;
      if (progress) progress.bytes = before;
      rmSync(file, { force: true });
      last = `blob ${digest} from ${from.endpoint} has digest ${got}`;
    }
    throw transferError(image, `${last} (${ATTEMPTS} attempts); refused`);
  }
}

function transferError(image: string, detail: string): MitosError {
  return new MitosError(
    'template_build_failed',
    `fetching template ${image}: ${detail}`,
    { image },
    {
      remediation:
        'the controller fetches from another holder or builds the template on this node when no holder serves it intact',
    },
  );
}
