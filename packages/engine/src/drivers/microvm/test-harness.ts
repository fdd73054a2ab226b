/**
 * Test-only: a MicroVmEngine on a fresh state directory (/tmp/mitos-test-*) and its own cgroup
 * parent, and a teardown that leaves nothing behind (VMs, snapshots, cgroups, files).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { removeCgroupParent } from '../linux/cgroups.js';
import { MicroVmEngine, type MicroVmEngineOptions } from './driver.js';
import { defaultGuestPath } from './paths.js';
import { qemuBinary } from './qemu-process.js';

export interface MicroVmTestEnv {
  stateDir: string;
  open(extra?: Partial<MicroVmEngineOptions>): Promise<MicroVmEngine>;
  cleanup(): Promise<void>;
}

/** Why the microvm tests cannot run on this host, or undefined when they can. */
export function microvmUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (cgroups, per-VM uids)';
  if (!qemuBinary()) return 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86 qemu-utils)';
  if (!existsSync(defaultGuestPath())) return `${defaultGuestPath()} is not built (make -C packages/agent)`;
  return undefined;
}

export function microvmTestEnv(defaults: Partial<MicroVmEngineOptions> = {}): MicroVmTestEnv {
  const stateDir = mkdtempSync('/tmp/mitos-test-');
  const cgroupParent = `mitos-test-${stateDir.slice(-6)}`;
  const opened: MicroVmEngine[] = [];
  return {
    stateDir,
    async open(extra = {}) {
      const engine = await MicroVmEngine.open({ stateDir, cgroupParent, ...defaults, ...extra });
      opened.push(engine);
      return engine;
    },
    async cleanup() {
      for (const e of opened) await e.close();
      await removeCgroupParent(cgroupParent);
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
