/** The `mitos doctor` line for the microvm engine: which accelerator it would use, and why. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDirOf, type HostCheck, type HostCheckOptions } from '../../host/doctor.js';
import { detectAccelerator } from './accel.js';
import { defaultGuestPath } from './paths.js';
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

export function microvmHostChecks(options: HostCheckOptions): HostCheck[] {
  return [acceleratorCheck(cacheDirOf(options))];
}

function acceleratorCheck(cacheDir: string): HostCheck {
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

/** Why the microvm engine cannot run on this host, or undefined when it can. */
export function microvmUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (cgroups, per-VM uids)';
  if (!qemuBinary()) return 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86 qemu-utils)';
  if (!existsSync(defaultGuestPath())) return `${defaultGuestPath()} is not built (make -C packages/agent)`;
  return undefined;
}
