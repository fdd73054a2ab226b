/** The `mitos doctor` line for the microvm engine: which accelerator it would use, and why. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { HostCheck } from '../../host/doctor.js';
import { detectAccelerator } from './accel.js';
import { qemuBinary } from './qemu-process.js';

/** Newest cached guest kernel config, so a kvm_pvm host can be judged against the real kernel. */
function cachedGuestConfig(cacheDir: string): string | undefined {
  const root = join(cacheDir, 'microvm');
  if (!existsSync(root)) return undefined;
  const configs = readdirSync(root)
    .map((v) => join(root, v, 'config'))
    .filter((p) => existsSync(p))
    .sort();
  return configs.at(-1);
}

export function microvmHostCheck(cacheDir: string): HostCheck {
  const name = 'microvm accelerator';
  const qemu = qemuBinary();
  const choice = detectAccelerator(cachedGuestConfig(cacheDir));
  if (!qemu) {
    // Informational: the default (linux) engine does not need QEMU.
    return {
      name,
      ok: true,
      detail: `qemu-system-x86_64 not installed, so --engine microvm is unavailable (${choice.accel} would be used: ${choice.reason})`,
    };
  }
  return { name, ok: true, detail: `${choice.accel}: ${choice.reason}` };
}
