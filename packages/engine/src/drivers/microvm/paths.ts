/** Where the microvm driver finds its inputs in a checkout (overridable by environment). */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const packagesDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** The static in-VM agent built by `make -C packages/agent`. */
export function defaultGuestPath(): string {
  return process.env.MITOS_GUEST_PATH ?? resolve(packagesDir, 'agent/build/mitos-guest');
}

/** packages/agent/kernels: the code kernels shipped in the initramfs. */
export function defaultCodeKernelsDir(): string {
  return process.env.MITOS_KERNELS_DIR ?? resolve(packagesDir, 'agent/kernels');
}
