/**
 * Everything a VM boots from, prepared once per engine and cached on the host keyed on its
 * inputs: the guest kernel (Debian cloud kernel), the initramfs (guest agent + modules + code
 * kernels), the accelerator decision, and one ext4 root disk per template image.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MitosError } from '@mitos/protocol';
import { buildImage } from '../../templates/builder.js';
import { type ImageSpec, imageKey } from '../../templates/images.js';
import { type AcceleratorChoice, detectAccelerator, hostTscKhz } from './accel.js';
import { ensureGuestKernel, type GuestKernel } from './guest-kernel.js';
import { ensureInitramfs } from './initramfs.js';
import type { MachineSpec } from './qemu-args.js';
import { ensureRootDisk } from './root-disk.js';

export interface BootAssets {
  kernel: GuestKernel;
  initramfs: string;
  accel: AcceleratorChoice;
}

export interface AssetOptions {
  cacheDir: string;
  uidBase: number;
  guestPath: string;
  codeKernelsDir: string;
  mirror?: string;
}

export async function prepareBootAssets(opts: AssetOptions, onProgress: (line: string) => void): Promise<BootAssets> {
  if (!existsSync(opts.guestPath)) {
    throw new MitosError(
      'host_unsupported',
      `the microVM guest agent is not built (${opts.guestPath})`,
      {},
      { remediation: 'run `make -C packages/agent` (npm run build does it)' },
    );
  }
  const kernel = await ensureGuestKernel(opts.cacheDir, onProgress);
  const initramfs = ensureInitramfs({ kernel, guestBinary: opts.guestPath, codeKernelsDir: opts.codeKernelsDir });
  const accel = detectAccelerator(join(kernel.dir, 'config'));
  return { kernel, initramfs, accel };
}

export function machineSpec(assets: BootAssets, memMiB: number, vcpus: number): MachineSpec {
  return {
    accel: assets.accel.accel,
    memMiB,
    vcpus,
    vmlinux: assets.kernel.vmlinux,
    initramfs: assets.initramfs,
    tscKhz: hostTscKhz(),
  };
}

/** The template tree (shared with the container driver's cache) as a VM root disk. */
export async function prepareRootDisk(
  image: ImageSpec,
  opts: AssetOptions,
  onProgress: (line: string) => void,
): Promise<{ key: string; disk: string }> {
  const key = imageKey(image, opts.uidBase);
  const rootfs = await buildImage(image, {
    cacheDir: opts.cacheDir,
    uidBase: opts.uidBase,
    mirror: opts.mirror,
    onProgress,
  });
  const disk = await ensureRootDisk({
    cacheDir: opts.cacheDir,
    imageKey: key,
    rootfs,
    uidBase: opts.uidBase,
    onProgress,
  });
  return { key, disk };
}
