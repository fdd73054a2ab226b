/**
 * The guest kernel: Debian's cloud kernel package, downloaded with apt and unpacked with
 * dpkg-deb into `<cache>/microvm/<version>/` (never installed on the host). Kept from it: the
 * PVH vmlinux, the config, and the few modules a microVM needs (virtio is modular there).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MitosError } from '@mitos/protocol';
import { mapHostError } from '../../host/errors.js';
import { removeTree } from '../../host/remove-tree.js';
import { run, tryRun } from '../../host/run.js';
import { acquireLock } from '../../templates/build-lock.js';
import { extractVmlinux } from './vmlinux.js';

const execFileAsync = promisify(execFile);

async function execIn(cwd: string, file: string, args: string[]): Promise<void> {
  try {
    await execFileAsync(file, args, {
      cwd,
      timeout: 10 * 60_000,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch (err) {
    throw mapHostError(err, [file, ...args].join(' '));
  }
}

/** Copy the wanted modules out of the package tree (flat, by module name). */
function keepModules(tree: string, into: string): string[] {
  const wanted = new Set(KEPT_MODULES);
  const kept: string[] = [];
  const stack = [tree];
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.name.endsWith('.ko') && wanted.has(e.name.slice(0, -3))) {
        copyFileSync(p, join(into, e.name));
        kept.push(e.name.slice(0, -3));
      }
    }
  }
  return kept.sort();
}

/** The meta package that always depends on the current cloud kernel. */
export const KERNEL_META_PACKAGE = 'linux-image-cloud-amd64';

/** Module files kept from the package (names as in the tree, without .ko). */
export const KEPT_MODULES = [
  'virtio',
  'virtio_ring',
  'virtio_mmio',
  'virtio_blk',
  'virtio_console',
  'virtio-rng',
  // For the Firecracker adapter, whose only host channel is vsock.
  'vsock',
  'vmw_vsock_virtio_transport_common',
  'vmw_vsock_virtio_transport',
];

export interface GuestKernel {
  /** Debian package name and version, e.g. linux-image-6.1.0-57-cloud-amd64 6.1.192-3. */
  package: string;
  version: string;
  /** `uname -r` of the guest. */
  release: string;
  dir: string;
  vmlinux: string;
  /** Directory of the kept `<name>.ko` files. */
  modulesDir: string;
}

interface KernelMeta {
  package: string;
  version: string;
  release: string;
  codec: string;
  builtAt: string;
}

/** Package and version apt would install for the meta package now. */
export async function resolveKernelPackage(): Promise<{ package: string; version: string }> {
  const pinned = process.env.MITOS_MICROVM_KERNEL_PACKAGE;
  let pkg = pinned;
  if (!pkg) {
    const deps = await run('apt-cache', ['depends', KERNEL_META_PACKAGE], { timeoutMs: 60_000 });
    pkg = /Depends:\s*(linux-image-\S+-cloud-amd64)\b/.exec(deps.stdout)?.[1];
  }
  if (!pkg) throw new Error(`apt knows no ${KERNEL_META_PACKAGE}`);
  const show = await run('apt-cache', ['show', '--no-all-versions', pkg], { timeoutMs: 60_000 });
  const version = /^Version:\s*(\S+)/m.exec(show.stdout)?.[1];
  if (!version) throw new Error(`apt knows no version of ${pkg}`);
  return { package: pkg, version };
}

function readMeta(dir: string): KernelMeta | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, '.complete'), 'utf8')) as KernelMeta;
  } catch {
    return undefined;
  }
}

function kernelFromDir(dir: string, meta: KernelMeta): GuestKernel {
  return {
    package: meta.package,
    version: meta.version,
    release: meta.release,
    dir,
    vmlinux: join(dir, 'vmlinux'),
    modulesDir: join(dir, 'modules'),
  };
}

/** The newest kernel already in the cache (used when apt cannot be asked, e.g. offline). */
function newestCached(root: string): GuestKernel | undefined {
  if (!existsSync(root)) return undefined;
  const found = readdirSync(root)
    .map((name) => ({ dir: join(root, name), meta: readMeta(join(root, name)) }))
    .filter((x): x is { dir: string; meta: KernelMeta } => x.meta !== undefined)
    .sort((a, b) => (a.meta.builtAt < b.meta.builtAt ? 1 : -1));
  const first = found[0];
  return first ? kernelFromDir(first.dir, first.meta) : undefined;
}

/** Get-or-download the guest kernel into `<cacheDir>/microvm/<version>/`. */
export async function ensureGuestKernel(
  cacheDir: string,
  onProgress: (line: string) => void = () => {},
): Promise<GuestKernel> {
  const root = join(cacheDir, 'microvm');
  let wanted: { package: string; version: string };
  try {
    wanted = await resolveKernelPackage();
  } catch (err) {
    const cached = newestCached(root);
    if (cached) return cached;
    throw new MitosError(
      'host_unsupported',
      `cannot resolve the guest kernel package: ${(err as Error).message}`,
      {},
      { remediation: `run \`apt-get update\`; the microvm engine downloads ${KERNEL_META_PACKAGE} with apt` },
    );
  }
  const dir = join(root, wanted.version);
  const done = readMeta(dir);
  if (done) return kernelFromDir(dir, done);
  mkdirSync(root, { recursive: true, mode: 0o755 });
  const lock = await acquireLock(`${dir}.lock`, { timeoutMs: 15 * 60_000 });
  try {
    const again = readMeta(dir);
    if (again) return kernelFromDir(dir, again);
    await removeTree(dir);
    const tmp = join(root, `.tmp-${wanted.version}-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      mkdirSync(join(tmp, 'modules'), { recursive: true, mode: 0o755 });
      onProgress(`downloading ${wanted.package} ${wanted.version}`);
      // apt-get download writes into its working directory.
      await execIn(tmp, 'apt-get', ['download', '-q', `${wanted.package}=${wanted.version}`]);
      const deb = readdirSync(tmp).find((n) => n.endsWith('.deb'));
      if (!deb) throw new Error('apt-get download produced no .deb');
      await run('dpkg-deb', ['-x', join(tmp, deb), join(tmp, 'x')], { timeoutMs: 5 * 60_000 });
      const release = readdirSync(join(tmp, 'x', 'lib', 'modules'))[0];
      if (!release) throw new Error(`${deb} has no /lib/modules`);
      const vmlinuz = join(tmp, 'x', 'boot', `vmlinuz-${release}`);
      const { elf, codec } = extractVmlinux(readFileSync(vmlinuz));
      writeFileSync(join(tmp, 'vmlinux'), elf, { mode: 0o644 });
      copyFileSync(join(tmp, 'x', 'boot', `config-${release}`), join(tmp, 'config'));
      const kept = keepModules(join(tmp, 'x', 'lib', 'modules', release, 'kernel'), join(tmp, 'modules'));
      onProgress(
        `guest kernel ${release}: vmlinux ${(elf.length / 1e6).toFixed(1)} MB (${codec}), modules ${kept.join(' ')}`,
      );
      await removeTree(join(tmp, 'x'));
      await tryRun('rm', ['-f', join(tmp, deb)]);
      const meta: KernelMeta = { ...wanted, release, codec, builtAt: new Date().toISOString() };
      writeFileSync(join(tmp, '.complete'), `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o644 });
      renameSync(tmp, dir);
      return kernelFromDir(dir, meta);
    } catch (err) {
      await removeTree(tmp).catch(() => {});
      throw new MitosError(
        'host_unsupported',
        `cannot prepare the guest kernel: ${(err as Error).message}`,
        {},
        {
          cause: err,
          remediation: 'check that apt can download from the Debian mirror (`apt-get update`)',
        },
      );
    }
  } finally {
    lock.release();
  }
}
