/**
 * Test-only: a LinuxEngine on a fresh state directory and its own cgroup parent, and a
 * teardown that removes every trace (sandboxes, mounts, loop device, cgroups, files).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { LinuxEngine, type LinuxEngineOptions, removeCgroupParent } from '@mitos/engine';
import { isRequired } from './require.js';

export interface TestEngineEnv {
  stateDir: string;
  cgroupParent: string;
  open(extra?: Partial<LinuxEngineOptions>): Promise<LinuxEngine>;
  /** Terminate every sandbox, destroy storage, remove cgroups and the state directory. */
  cleanup(): Promise<void>;
}

export function testEngineEnv(): TestEngineEnv {
  // Short and under /tmp: unix socket paths must stay under 108 bytes.
  const stateDir = mkdtempSync('/tmp/mitos-test-');
  const cgroupParent = `mitos-test-${stateDir.slice(-6)}`;
  const opened: LinuxEngine[] = [];
  return {
    stateDir,
    cgroupParent,
    async open(extra = {}) {
      // Where MITOS_REQUIRE names btrfs, the engine may not fall back to overlay unnoticed.
      const storage = isRequired('btrfs') ? 'btrfs' : undefined;
      const engine = await LinuxEngine.open({ stateDir, cgroupParent, storage, ...extra });
      opened.push(engine);
      return engine;
    },
    async cleanup() {
      // Whatever fails first, the cgroups and the state dir still go (a loop device slow to
      // detach under load once left four cgroups behind as well); the first error is rethrown.
      try {
        // An engine opened only to clean up is closed with the others: an open one keeps its
        // listeners (the DNS resolver) and would keep the test process from exiting.
        let engine = opened.at(-1);
        if (!engine) {
          engine = await LinuxEngine.open({ stateDir, cgroupParent });
          opened.push(engine);
        }
        for (const s of engine.list()) await engine.terminate(s.id);
        await engine.drainPool();
        await engine.network.destroy();
        await engine.storage.destroy();
      } finally {
        for (const e of opened) await e.close().catch(() => {});
        await removeCgroupParent(cgroupParent);
        rmSync(stateDir, { recursive: true, force: true });
      }
    },
  };
}
