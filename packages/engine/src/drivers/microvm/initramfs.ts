/**
 * The initramfs: the static guest agent as /init, the virtio modules the cloud kernel needs
 * (in dependency order, read from each module's own `depends=`), and the code kernels
 * (mitos_kernel.py/.mjs) that the guest bind-mounts at /opt/mitos/kernels. Cached next to the
 * kernel, keyed on every input byte, so a rebuilt agent gives a new initramfs.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CpioEntry, writeCpio } from './cpio.js';
import type { GuestKernel } from './guest-kernel.js';

/** Bump when the archive layout changes. */
const INITRAMFS_VERSION = 1;

/** Modules loaded at boot; their dependencies are added and ordered automatically. */
export const BOOT_MODULES = ['virtio_mmio', 'virtio_blk', 'virtio_console', 'virtio-rng'];

/** The `depends=` list of a .ko, from its .modinfo strings. */
export function moduleDepends(ko: Buffer): string[] {
  const at = ko.indexOf('depends=');
  if (at < 0) return [];
  const end = ko.indexOf(0, at);
  const value = ko.subarray(at + 'depends='.length, end < 0 ? undefined : end).toString();
  return value.split(',').filter(Boolean);
}

/**
 * `wanted` plus everything they depend on, dependencies first. Module names use `_` and `-`
 * interchangeably (the file is virtio-rng.ko, modinfo may say virtio_rng).
 */
export function orderModules(wanted: string[], depsOf: (name: string) => string[] | undefined): string[] {
  const canon = (n: string) => n.replaceAll('-', '_');
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, chain: string[]) => {
    const key = canon(name);
    if (state.get(key) === 'done') return;
    if (state.get(key) === 'visiting') throw new Error(`module dependency cycle: ${[...chain, name].join(' -> ')}`);
    const deps = depsOf(name);
    if (deps === undefined) throw new Error(`module ${name} is not in the kernel package`);
    state.set(key, 'visiting');
    for (const d of deps) visit(d, [...chain, name]);
    state.set(key, 'done');
    order.push(name);
  };
  for (const w of wanted) visit(w, []);
  return order;
}

function listFiles(dir: string, prefix = ''): { rel: string; abs: string; dir: boolean }[] {
  if (!existsSync(dir)) return [];
  const out: { rel: string; abs: string; dir: boolean }[] = [];
  for (const name of readdirSync(dir).sort()) {
    const abs = join(dir, name);
    const rel = prefix ? `${prefix}/${name}` : name;
    if (statSync(abs).isDirectory()) {
      out.push({ rel, abs, dir: true }, ...listFiles(abs, rel));
    } else out.push({ rel, abs, dir: false });
  }
  return out;
}

export interface InitramfsInputs {
  kernel: GuestKernel;
  /** packages/agent/build/mitos-guest */
  guestBinary: string;
  /** packages/agent/kernels */
  codeKernelsDir: string;
}

/** Path of the initramfs for these inputs, building it if the cache lacks it. */
export function ensureInitramfs(inputs: InitramfsInputs): string {
  const { kernel } = inputs;
  const files = new Map<string, string>(); // module file name -> path
  for (const f of readdirSync(kernel.modulesDir))
    if (f.endsWith('.ko')) files.set(f.slice(0, -3), join(kernel.modulesDir, f));
  const byCanon = new Map([...files.keys()].map((n) => [n.replaceAll('-', '_'), n]));
  const resolveName = (n: string) => (files.has(n) ? n : byCanon.get(n.replaceAll('-', '_')));
  const order = orderModules(BOOT_MODULES, (n) => {
    const real = resolveName(n);
    return real ? moduleDepends(readFileSync(files.get(real) as string)).map((d) => resolveName(d) ?? d) : undefined;
  }).map((n) => resolveName(n) as string);

  const guest = readFileSync(inputs.guestBinary);
  const codeKernels = listFiles(inputs.codeKernelsDir);
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ v: INITRAMFS_VERSION, release: kernel.release, order }));
  hash.update(guest);
  for (const f of codeKernels) {
    hash.update(f.rel);
    if (!f.dir) hash.update(readFileSync(f.abs));
  }
  for (const m of order) hash.update(readFileSync(files.get(m) as string));
  const key = hash.digest('hex').slice(0, 24);
  const path = join(kernel.dir, `initramfs-${key}.cpio`);
  if (existsSync(path)) return path;

  const entries: CpioEntry[] = [
    ...['dev', 'proc', 'sys', 'mnt', 'run', 'tmp', 'lib', 'lib/mitos', 'lib/mitos/modules', 'opt', 'opt/mitos'].map(
      (p): CpioEntry => ({ kind: 'dir', path: p, mode: 0o755 }),
    ),
    // The kernel opens /dev/console for init's stdio before init can mount devtmpfs.
    { kind: 'char', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
    { kind: 'file', path: 'init', mode: 0o755, data: guest },
    ...order.map(
      (m): CpioEntry => ({
        kind: 'file',
        path: `lib/mitos/modules/${m}.ko`,
        mode: 0o644,
        data: readFileSync(files.get(m) as string),
      }),
    ),
    {
      kind: 'file',
      path: 'lib/mitos/modules/modules.order',
      mode: 0o644,
      data: Buffer.from(order.map((m) => `${m}.ko\n`).join('')),
    },
    { kind: 'dir', path: 'opt/mitos/kernels', mode: 0o755 },
    ...codeKernels.map(
      (f): CpioEntry =>
        f.dir
          ? { kind: 'dir', path: `opt/mitos/kernels/${f.rel}`, mode: 0o755 }
          : { kind: 'file', path: `opt/mitos/kernels/${f.rel}`, mode: 0o644, data: readFileSync(f.abs) },
    ),
  ];
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, writeCpio(entries), { mode: 0o644 });
  renameSync(tmp, path);
  return path;
}
