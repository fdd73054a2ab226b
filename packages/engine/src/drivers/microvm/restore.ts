/** Waking a restore target: the one sequence create and fork both use. */
import { randomBytes } from 'node:crypto';
import type { MuxSession, ResumeOptions } from '../../agent/mux.js';
import type { Snapshot } from './snapshots.js';
import { tracer } from './trace.js';
import type { VmHandle } from './vm-factory.js';

const RESUME_TIMEOUT_MS = 60_000;

/** Stream the snapshot's device state into a waiting target, continue it, wake its agent. */
export async function restoreInto(
  handle: VmHandle,
  snap: Snapshot,
  session: MuxSession,
  resume: ResumeOptions,
): Promise<void> {
  if (!snap.devices) throw new Error(`snapshot ${snap.id} is not sealed`);
  const trace = tracer('restore');
  await handle.vm.incoming(snap.devices, true);
  trace('devices loaded');
  await handle.vm.cont();
  trace('cont');
  session.attach(handle.vm.agent);
  await session.resume(resume, RESUME_TIMEOUT_MS);
  trace('resumed');
}

/** What a new sandbox is resumed with: its name, a fresh token and seed, its pids limit. */
export function newIdentity(hostname: string, pidsMax: number | undefined): Omit<ResumeOptions, 'mode'> {
  return { hostname, token: randomBytes(24).toString('hex'), seed: randomBytes(64), pidsMax };
}
