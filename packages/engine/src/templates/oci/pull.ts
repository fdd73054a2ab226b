/**
 * Pulls an OCI image and makes it a template base, with Debian's skopeo and umoci rather than a
 * registry client of our own: skopeo speaks the v2 registry protocol (basic and bearer-token
 * auth, ~/.docker/config.json, an index resolved to linux/amd64); umoci applies the layers
 * (whiteouts, opaque directories, and paths kept inside the tree by its secure join).
 *
 * Every pull lands in one OCI layout per state directory, whose blobs are named by digest: two
 * images that share a base layer store that layer once. The unpacked tree is shifted into the
 * template uid range and imported as an image keyed by the manifest digest.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { lchownSync, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MitosError } from '@mitos/protocol';
import type { DriverImages } from '../../core/driver.js';
import { removeTree } from '../../host/remove-tree.js';
import { which } from '../../host/which.js';
import { acquireLock } from '../build-lock.js';
import { postprocessTree } from '../postprocess.js';
import { shiftOwnership } from '../uid-shift.js';
import { applyLayer, chainKeys, type LayerRef, recordChains, tarLayer } from './layers.js';
import { isInsecureRegistry, parseReference } from './reference.js';

const execFileAsync = promisify(execFile);
const OCI_BUILDER_VERSION = 1;

export interface OciPullOptions {
  /** Where the shared OCI layout and unpack scratch live (the engine's state directory). */
  dir: string;
  uidBase: number;
  images: DriverImages;
  /** A containers-auth.json / docker config.json; default: skopeo's own search, then ~/.docker/config.json. */
  authFile?: string;
  /** Registries (host:port) reached over plain HTTP besides loopback ones. */
  insecureRegistries?: readonly string[];
}

export interface PulledImage {
  imageKey: string;
  /** The platform manifest's digest. */
  digest: string;
  cached: boolean;
  env: Record<string, string>;
  workdir?: string;
  user?: string;
  command?: string[];
}

/** True when both tools are installed. */
export function ociToolsPresent(): boolean {
  return which('skopeo') !== undefined && which('umoci') !== undefined;
}

export function defaultAuthFile(): string | undefined {
  const docker = join(process.env.HOME ?? '/root', '.docker', 'config.json');
  try {
    readFileSync(docker);
    return docker;
  } catch {
    return undefined;
  }
}

/** Turn skopeo's failure into registry_auth / image_not_found, naming the reference. */
export function registryError(reference: string, stderr: string): MitosError {
  const text = stderr.trim().split('\n').slice(-3).join(' ');
  // Classify on skopeo's words, not on the reference it echoes: a registry port such as 40113
  // or a digest holds "401" and made an unknown image look like a refused login.
  const words = text.split(reference).join(' ');
  if (/unauthorized|authentication required|denied|\b40[13]\b/i.test(words)) {
    return new MitosError('registry_auth', `pulling ${reference}: ${text}`, { image: reference });
  }
  if (/manifest unknown|name unknown|not found|\b404\b|no image found|choosing image instance/i.test(words)) {
    return new MitosError('image_not_found', `image ${reference} not found: ${text}`, { image: reference });
  }
  return new MitosError(
    'template_build_failed',
    `pulling ${reference}: ${text}`,
    { image: reference },
    {
      remediation: 'check that the registry is reachable from the server and the reference is right',
    },
  );
}

interface LayoutIndex {
  manifests: { digest: string; annotations?: Record<string, string> }[];
}

function readBlob(layout: string, digest: string): unknown {
  const [algo, hex] = digest.split(':');
  if (algo !== 'sha256' || !/^[0-9a-f]{64}$/.test(hex ?? '')) throw new Error(`unexpected digest ${digest}`);
  return JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', hex as string), 'utf8'));
}

const inflight = new Map<string, Promise<PulledImage>>();

export function pullImage(
  options: OciPullOptions,
  reference: string,
  onLine: (line: string) => void,
): Promise<PulledImage> {
  const ref = parseReference(reference);
  let pending = inflight.get(ref.canonical);
  if (!pending) {
    pending = doPull(options, reference, ref.canonical, onLine).finally(() => inflight.delete(ref.canonical));
    inflight.set(ref.canonical, pending);
  }
  return pending;
}

async function doPull(
  options: OciPullOptions,
  reference: string,
  canonical: string,
  onLine: (line: string) => void,
): Promise<PulledImage> {
  const ref = parseReference(reference);
  const layout = join(options.dir, 'oci', 'layout');
  mkdirSync(layout, { recursive: true, mode: 0o700 });
  // The layout's index.json is shared: one skopeo writes it at a time (across processes too).
  const name = createHash('sha256').update(canonical).digest('hex').slice(0, 32);
  const lock = await acquireLock(join(options.dir, 'oci', 'layout.lock'));
  const started = performance.now();
  try {
    const args = ['copy', '--quiet', '--override-os', 'linux', '--override-arch', 'amd64'];
    const authFile = options.authFile ?? process.env.MITOS_REGISTRY_AUTH ?? defaultAuthFile();
    if (authFile) args.push('--src-authfile', authFile);
    if (isInsecureRegistry(ref.registry, options.insecureRegistries)) args.push('--src-tls-verify=false');
    args.push(`docker://${canonical}`, `oci:${layout}:${name}`);
    onLine(`pulling ${canonical}`);
    await execFileAsync(which('skopeo') ?? 'skopeo', args, { timeout: 30 * 60_000, maxBuffer: 16 << 20 }).catch(
      (err: { stderr?: string; message?: string }) => {
        throw registryError(reference, err.stderr || err.message || String(err));
      },
    );
  } finally {
    lock.release();
  }
  return unpackLayout(options, layout, name, canonical, started, onLine);
}

/**
 * Unpacks image `name` of an OCI layout into the image store (shifted into the template uid
 * range) and reads its config; a registry pull and a node-to-node transfer both end here. umoci
 * checks each blob against its digest as it reads it.
 */
export async function unpackLayout(
  options: OciPullOptions,
  layout: string,
  name: string,
  canonical: string,
  started: number,
  onLine: (line: string) => void,
): Promise<PulledImage> {
  const reference = canonical;
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as LayoutIndex;
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === name);
  if (!entry) throw new MitosError('internal', `skopeo left no manifest for ${canonical}`);
  const digest = entry.digest;
  const manifest = readBlob(layout, digest) as { config: { digest: string }; layers: LayerRef[] };
  const config = (readBlob(layout, manifest.config.digest) as { config?: ImageConfig }).config ?? {};
  const meta = imageMeta(config);
  const key = createHash('sha256').update(`oci\0${digest}\0${options.uidBase}\0v${OCI_BUILDER_VERSION}`).digest('hex');
  if (options.images.has(key)) {
    onLine(`image ${canonical} (${digest}) already unpacked`);
    return { imageKey: key, digest, cached: true, ...meta };
  }
  if (options.images.derive && manifest.layers.every(tarLayer)) {
    try {
      const counts = await unpackByChain(options, layout, manifest.layers, key);
      onLine(
        `image ${canonical} ready: ${manifest.layers.length} layers (${counts.unpacked} unpacked, ${counts.shared} shared) in ${Math.round(performance.now() - started)} ms`,
      );
      return { imageKey: key, digest, cached: false, ...meta };
    } catch (err) {
      // Nothing half-made is published (each chain is its own image); the whole unpack below
      // covers what a layer alone cannot express (a hard link to a lower layer's file).
      onLine(`layer by layer unpack of ${canonical} failed (${(err as Error).message}); unpacking it whole`);
    }
  }
  await unpackWhole(
    options,
    { layout, name, canonical, reference, key, layers: manifest.layers.length, started },
    onLine,
  );
  return { imageKey: key, digest, cached: false, ...meta };
}

interface WholeUnpack {
  layout: string;
  name: string;
  canonical: string;
  reference: string;
  key: string;
  layers: number;
  started: number;
}

/** umoci unpacks every layer into one tree, which is imported as a copy of its own. */
async function unpackWhole(options: OciPullOptions, u: WholeUnpack, onLine: (line: string) => void): Promise<void> {
  const { layout, name, canonical, reference, key, started } = u;
  const bundle = join(options.dir, 'oci', `.tmp-unpack-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    onLine(`unpacking ${u.layers} layers of ${canonical}`);
    await execFileAsync(which('umoci') ?? 'umoci', ['unpack', '--image', `${layout}:${name}`, bundle], {
      timeout: 30 * 60_000,
      maxBuffer: 16 << 20,
    }).catch((err: { stderr?: string; message?: string }) => {
      throw new MitosError(
        'template_build_failed',
        `unpacking ${canonical}: ${(err.stderr || err.message || '').trim()}`,
        {
          image: reference,
        },
      );
    });
    const rootfs = join(bundle, 'rootfs');
    postprocessTree(rootfs);
    const shift = shiftOwnership(rootfs, options.uidBase);
    await options.images.importTree(key, rootfs);
    onLine(
      `image ${canonical} ready: ${u.layers} layers, ${(shift.bytes / 1e6).toFixed(0)} MB in ${Math.round(performance.now() - started)} ms`,
    );
  } catch (err) {
    if (err instanceof MitosError) throw err;
    throw new MitosError('template_build_failed', `unpacking ${canonical}: ${(err as Error).message}`, {
      image: reference,
    });
  } finally {
    await removeTree(bundle).catch(() => {});
  }
}

/**
 * Each layer onto a snapshot of the chain below it (layers.ts); a chain another image already
 * made is reused as it is. The image itself is a snapshot of the top chain with the template
 * placeholders written (postprocessTree), so the chains stay exactly their layers.
 */
async function unpackByChain(
  options: OciPullOptions,
  layout: string,
  layers: LayerRef[],
  key: string,
): Promise<{ unpacked: number; shared: number }> {
  const derive = options.images.derive as NonNullable<DriverImages['derive']>;
  const chains = chainKeys(layers, options.uidBase);
  const counts = { unpacked: 0, shared: 0 };
  let parent: string | undefined;
  for (const [i, layer] of layers.entries()) {
    const chain = chains[i] as string;
    if (options.images.has(chain)) counts.shared++;
    else {
      await derive(chain, parent, (dir) => applyLayer(layout, layer, dir, options.uidBase));
      counts.unpacked++;
    }
    parent = chain;
  }
  await derive(key, parent, async (dir) => {
    postprocessTree(dir);
    // What postprocessTree made is host root's; the layers below are already shifted.
    for (const path of ['', 'etc', 'etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'dev', 'workspace', 'tmp']) {
      const st = lstatSync(join(dir, path));
      if (st.uid < options.uidBase) lchownSync(join(dir, path), st.uid + options.uidBase, st.gid + options.uidBase);
    }
  });
  recordChains(options.dir, key, chains);
  return counts;
}

interface ImageConfig {
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
}

function imageMeta(config: ImageConfig): Omit<PulledImage, 'imageKey' | 'digest' | 'cached'> {
  const env: Record<string, string> = {};
  for (const kv of config.Env ?? []) {
    const eq = kv.indexOf('=');
    if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const command = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
  return {
    env,
    ...(config.WorkingDir ? { workdir: config.WorkingDir } : {}),
    ...(config.User && config.User !== 'root' && config.User !== '0' ? { user: config.User } : {}),
    ...(command.length > 0 ? { command } : {}),
  };
}
