/**
 * KVM or TCG, decided at runtime and always with a reason (the driver and `mitos doctor`
 * report it). A /dev/kvm is not enough: on these hosts it is kvm_pvm, a paravirtual
 * hypervisor that only runs guest kernels built with CONFIG_PVM_GUEST, so a stock Debian
 * kernel would not boot under it. KVM is chosen only when its backend runs our guest kernel.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';

export type Accelerator = 'kvm' | 'tcg';

export interface AcceleratorChoice {
  accel: Accelerator;
  reason: string;
}

export interface AccelProbe {
  env: NodeJS.ProcessEnv;
  exists(path: string): boolean;
  /** Open for read+write would succeed. */
  writable(path: string): boolean;
  /** The guest kernel's config text, if known. */
  guestConfig?: string;
}

export const hostProbe = (guestConfig?: string): AccelProbe => ({
  env: process.env,
  exists: existsSync,
  writable: (p) => {
    try {
      accessSync(p, constants.R_OK | constants.W_OK);
      return true;
    } catch {
      return false;
    }
  },
  guestConfig,
});

export function chooseAccelerator(probe: AccelProbe): AcceleratorChoice {
  const forced = probe.env.MITOS_MICROVM_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return { accel: forced, reason: `forced by MITOS_MICROVM_ACCEL=${forced}` };
  if (!probe.exists('/dev/kvm')) return { accel: 'tcg', reason: 'no /dev/kvm on this host: software emulation (TCG)' };
  if (!probe.writable('/dev/kvm'))
    return { accel: 'tcg', reason: '/dev/kvm is not accessible: software emulation (TCG)' };
  for (const vendor of ['kvm_intel', 'kvm_amd']) {
    if (probe.exists(`/sys/module/${vendor}`))
      return { accel: 'kvm', reason: `hardware virtualization through ${vendor}` };
  }
  if (probe.exists('/sys/module/kvm_pvm')) {
    if (probe.guestConfig && /^CONFIG_PVM_GUEST=y$/m.test(probe.guestConfig)) {
      return { accel: 'kvm', reason: '/dev/kvm is kvm_pvm and the guest kernel is built with CONFIG_PVM_GUEST' };
    }
    return {
      accel: 'tcg',
      reason:
        "/dev/kvm is kvm_pvm, which only runs guest kernels built with CONFIG_PVM_GUEST (Debian's cloud kernel is not): software emulation (TCG)",
    };
  }
  return {
    accel: 'tcg',
    reason:
      'the KVM backend is unknown (no kvm_intel, kvm_amd or kvm_pvm module): software emulation (TCG); set MITOS_MICROVM_ACCEL=kvm to try it',
  };
}

/** The accelerator for this host, reading the guest kernel config when a path is given. */
export function detectAccelerator(guestConfigPath?: string): AcceleratorChoice {
  let config: string | undefined;
  try {
    if (guestConfigPath) config = readFileSync(guestConfigPath, 'utf8');
  } catch {
    // Unknown config: a PVM host then falls back to TCG.
  }
  return chooseAccelerator(hostProbe(config));
}

/** The host TSC frequency in kHz: a TCG guest's TSC ticks at the host's rate. */
export function hostTscKhz(cpuinfo = readFileSafe('/proc/cpuinfo')): number | undefined {
  const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo)?.[1];
  return mhz ? Math.round(Number(mhz) * 1000) : undefined;
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
