/**
 * Templates as snapshots: boot the template's VM once with its RAM written into a shared
 * file, warm it (the libraries a sandbox will import are read into the guest page cache, font
 * caches built), fence the agent so nothing is in flight, stop, and save the device state.
 * Every sandbox of the template is then a copy-on-write restore of that instant.
 */
import { join } from 'node:path';
import { AgentClient } from '../../agent/client.js';
import { MuxSession } from '../../agent/mux.js';
import type { ResourceLimits } from '../../engine.js';
import { ChannelProxy } from './proxy.js';
import type { Snapshot, SnapshotStore } from './snapshots.js';
import type { VmFactory } from './vm-factory.js';

/** Run in the template VM before the snapshot; failures are ignored (a tool may be absent). */
export const WARM_COMMANDS = [
  // Reads numpy/pandas/matplotlib into the page cache and builds matplotlib's font cache.
  "command -v python3 >/dev/null && MPLBACKEND=Agg python3 -c 'import json, pickle, numpy, pandas, matplotlib.pyplot' 2>/dev/null",
  'command -v node >/dev/null && node -e 0',
  'sync',
];

const BOOT_TIMEOUT_MS = 180_000;
const WARM_TIMEOUT_MS = 300_000;

export interface TemplateSnapshotSpec {
  memMiB: number;
  vcpus: number;
  limits: ResourceLimits;
  baseDisk: string;
  runDir: string;
  log: (line: string) => void;
}

export async function buildTemplateSnapshot(
  factory: VmFactory,
  snapshots: SnapshotStore,
  spec: TemplateSnapshotSpec,
): Promise<Snapshot> {
  const started = performance.now();
  const snap = snapshots.create('template', spec.memMiB, spec.vcpus);
  let handle: Awaited<ReturnType<VmFactory['booting']>> | undefined;
  let proxy: ChannelProxy | undefined;
  const session = new MuxSession();
  try {
    handle = await factory.booting(snap, spec.limits, spec.baseDisk);
    session.attach(handle.vm.agent);
    const h = handle;
    await session.waitHello(BOOT_TIMEOUT_MS).catch((err: Error) => {
      throw new Error(`the template VM did not boot: ${err.message}; ${h.vm.proc.diagnostics()}`);
    });
    const bootMs = performance.now() - started;
    proxy = await ChannelProxy.listen(join(spec.runDir, `${snap.id}.sock`), session);
    const client = new AgentClient(proxy.path, snap.id);
    for (const command of WARM_COMMANDS) {
      await client.exec({ command, timeoutMs: WARM_TIMEOUT_MS, cwd: '/' }).catch(() => undefined);
    }
    const warmMs = performance.now() - started - bootMs;
    await session.fence(30_000);
    await handle.vm.stop();
    const devices = await handle.vm.saveDevices();
    snapshots.seal(snap, devices);
    spec.log(
      `template snapshot ${snap.id}: boot ${Math.round(bootMs)} ms, warm ${Math.round(warmMs)} ms, devices ${devices.length} bytes`,
    );
    return snap;
  } catch (err) {
    snapshots.discard(snap);
    throw err;
  } finally {
    await proxy?.close();
    session.close();
    if (handle) await factory.destroy(handle);
  }
}
