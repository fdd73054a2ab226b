/**
 * Test-only: a MicroVmEngine on a fresh state directory (/tmp/mitos-test-*) and its own cgroup
 * parent, and a teardown that leaves nothing behind (VMs, snapshots, cgroups, files).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { MicroVmEngine, type MicroVmEngineOptions, removeCgroupParent } from '@mitos/engine';

export { microvmUnavailable } from '@mitos/engine';

export interface MicroVmTestEnv {
  stateDir: string;
  open(extra?: Partial<MicroVmEngineOptions>): Promise<MicroVmEngine>;
  cleanup(): Promise<void>;
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
