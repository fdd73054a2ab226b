/**
 * Pushes a template to a v2 registry as an OCI image that a `fromImage` (here or on another node)
 * pulls back to the same tree: the template's tree, its ownership shifted back to plain ids, is
 * one layer made by umoci (which writes the tar safely from a tree it does not trust), with the
 * template's env, working directory and start command as the image config; skopeo pushes it.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MitosError } from '@mitos/protocol';
import { removeTree } from '../../host/remove-tree.js';
import { run } from '../../host/run.js';
import { which } from '../../host/which.js';
import type { TemplateConfig } from '../../state/template-config.js';
import { shiftOwnership } from '../uid-shift.js';
import { defaultAuthFile, registryError } from './pull.js';
import { isInsecureRegistry, parseReference } from './reference.js';

const execFileAsync = promisify(execFile);

export interface OciPushOptions {
  /** Scratch space (the engine's state directory). */
  dir: string;
  uidBase: number;
  /** Host path of the template's tree. */
  tree: string;
  config: TemplateConfig | undefined;
  authFile?: string;
  insecureRegistries?: readonly string[];
}

async function umoci(args: string[], what: string): Promise<void> {
  await execFileAsync(which('umoci') ?? 'umoci', args, { timeout: 30 * 60_000, maxBuffer: 16 << 20 }).catch(
    (err: { stderr?: string; message?: string }) => {
      throw new MitosError('internal', `${what}: ${(err.stderr || err.message || '').trim()}`);
    },
  );
}

/** Push the tree to `reference`; resolves with the canonical reference pushed. */
export async function pushImage(
  options: OciPushOptions,
  reference: string,
  onLine: (line: string) => void,
): Promise<string> {
  const ref = parseReference(reference);
  if (ref.digest) {
    throw new MitosError(
      'invalid_request',
      `cannot push to a digest reference ${reference}`,
      {},
      {
        remediation: 'push to a tag (registry/name:tag); the registry names the digest',
      },
    );
  }
  const scratch = join(options.dir, 'oci', `.tmp-push-${process.pid}-${randomBytes(4).toString('hex')}`);
  const layout = join(scratch, 'layout');
  try {
    mkdirSync(scratch, { recursive: true, mode: 0o700 });
    await packLayout(options, layout, onLine);
    const push = ['copy', '--quiet', `oci:${layout}:t`, `docker://${ref.canonical}`];
    const authFile = options.authFile ?? process.env.MITOS_REGISTRY_AUTH ?? defaultAuthFile();
    if (authFile) push.splice(2, 0, '--dest-authfile', authFile);
    if (isInsecureRegistry(ref.registry, options.insecureRegistries)) push.splice(2, 0, '--dest-tls-verify=false');
    onLine(`pushing ${ref.canonical}`);
    await execFileAsync(which('skopeo') ?? 'skopeo', push, { timeout: 30 * 60_000, maxBuffer: 16 << 20 }).catch(
      (err: { stderr?: string; message?: string }) => {
        throw registryError(reference, err.stderr || err.message || String(err));
      },
    );
    return ref.canonical;
  } finally {
    await removeTree(scratch).catch(() => {});
  }
}

/**
 * Writes the template tree (ownership shifted back to plain ids) and its config as the one-layer
 * image tagged `t` of a new OCI layout at `layout`; resolves with the image's manifest digest.
 * The push above and node-to-node template transfer share it.
 */
export async function packLayout(
  options: Pick<OciPushOptions, 'uidBase' | 'tree' | 'config'>,
  layout: string,
  onLine: (line: string) => void,
): Promise<string> {
  const bundle = `${layout}.bundle`;
  try {
    await umoci(['init', '--layout', layout], 'umoci init');
    await umoci(['new', '--image', `${layout}:t`], 'umoci new');
    await umoci(['unpack', '--image', `${layout}:t`, bundle], 'umoci unpack');
    onLine(`copying the template tree`);
    await run('cp', ['-a', '--reflink=auto', `${options.tree}/.`, join(bundle, 'rootfs')], { timeoutMs: 30 * 60_000 });
    shiftOwnership(join(bundle, 'rootfs'), 0, options.uidBase);
    onLine('packing one layer');
    await umoci(['repack', '--image', `${layout}:t`, bundle], 'umoci repack');
    const c = options.config;
    const args = ['config', '--image', `${layout}:t`, '--config.workingdir', c?.workdir ?? '/workspace'];
    for (const [k, v] of Object.entries(c?.env ?? {})) args.push('--config.env', `${k}=${v}`);
    if (c?.user) args.push('--config.user', c.user);
    for (const part of c?.command ?? []) args.push('--config.cmd', part);
    await umoci(args, 'umoci config');
  } finally {
    await removeTree(bundle).catch(() => {});
  }
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 't');
  if (!entry) throw new MitosError('internal', 'umoci left no manifest tagged t');
  return entry.digest;
}
