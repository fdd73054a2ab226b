/**
 * A fork that carries every process (docs/fork-processes.md): the parent's tree checkpointed
 * once into memory (checkpoint/dump.ts), its root snapshotted right after, and each child
 * restored from the images by its launcher onto its own snapshot, in its own uid range,
 * cgroups and namespaces, with a fresh agent (checkpoint/carry.ts, launch-restore.c).
 */
import { channel } from 'node:diagnostics_channel';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ClosedConnection, MitosError } from '@mitos/protocol';
import { checkpointWorkDir, childImages, removeCheckpointWorkDir, restoreCommand } from '../../checkpoint/carry.js';
import { closeTiedSockets } from '../../checkpoint/closed-sockets.js';
import { socketOwners } from '../../checkpoint/connections.js';
import { dumpSandbox } from '../../checkpoint/dump.js';
import { keepKernelFeatures } from '../../checkpoint/kernel-features.js';
import { type Restorer, restoreFailure } from '../../checkpoint/restore.js';
import { readStats } from '../../checkpoint/stats.js';
import type { Launched } from '../../core/driver.js';
import { findCriu } from '../../host/criu.js';
import type { SandboxRow } from '../../state/store.js';
import type { RootLayout } from '../../storage/storage.js';
import { mappableInitProgram } from './launcher.js';

export interface CarriedForkContext {
  cacheDir: string;
  stateDir: string;
  initPath: string;
  parentUidBase: number | undefined;
  snapshotRoots(childIds: string[]): Promise<RootLayout[]>;
  launchChild(row: SandboxRow, root: RootLayout, restore: Restorer): Promise<Launched>;
}

/**
 * Where each step of a carried fork goes, for the profile (packages/bench/spike/criu-sandbox.mjs):
 * `{phase, ms, child?, stats?}` with CRIU's own figures; nothing is read when no one listens.
 */
export const carriedForkPhases = channel('mitos:carried-fork');

function phase(name: string, since: number, extra: () => Record<string, unknown>): void {
  if (!carriedForkPhases.hasSubscribers) return;
  carriedForkPhases.publish({ phase: name, ms: performance.now() - since, ...extra() });
}

/**
 * The parent's sockets tied to its address, closed in the checkpoint the children are restored
 * from (closed-sockets.ts), each named with the processes holding it (read while the parent
 * runs on after the dump; a socket closed meanwhile is named by its inode alone).
 */
function closeTiedConnections(
  dumpDir: string,
  initPid: number,
): { closed: ClosedConnection[]; loopbackConnections: boolean } {
  const file = join(dumpDir, 'files.img');
  const { image, closed, loopbackConnections } = closeTiedSockets(readFileSync(file));
  if (closed.length === 0) return { closed: [], loopbackConnections };
  writeFileSync(file, image);
  const owners = socketOwners(
    initPid,
    closed.map((c) => c.inode),
  );
  return {
    closed: closed.flatMap(({ inode, socket }) =>
      (owners.get(inode) ?? [{ pid: 0, command: `(socket ${inode}, closed by its process meanwhile)` }]).map((o) => ({
        ...o,
        socket,
      })),
    ),
    loopbackConnections,
  };
}

export async function forkCarryingProcesses(
  ctx: CarriedForkContext,
  parent: SandboxRow,
  children: SandboxRow[],
): Promise<Launched[]> {
  const criu = findCriu(ctx.cacheDir);
  if (!('tool' in criu)) {
    throw new MitosError(
      'host_unsupported',
      `a fork that carries processes needs CRIU: ${criu.missing}`,
      {},
      {
        remediation:
          'run `node scripts/setup.mjs` as root (it installs the pinned CRIU), or fork with processes "none"',
      },
    );
  }
  const parentBase = ctx.parentUidBase;
  if (parent.initPid === null || parentBase === undefined) {
    throw new MitosError('not_found', 'the parent is not running');
  }
  const work = checkpointWorkDir(ctx.stateDir, parent.id);
  try {
    let t = performance.now();
    const dump = await dumpSandbox(criu.tool, { initPid: parent.initPid, uidBase: parentBase }, join(work, 'parent'));
    phase('dump', t, () => ({ stats: readStats(dump.dir, 'dump') }));
    const { closed: closedConnections, loopbackConnections } = closeTiedConnections(dump.dir, parent.initPid);
    // CRIU runs the agent program at each of its steps only where a loopback connection needs
    // loopback up before the restore reconnects it (otherwise the fresh agent brings it up).
    const actionScript = loopbackConnections ? ctx.initPath : undefined;
    t = performance.now();
    const roots = await ctx.snapshotRoots(children.map((c) => c.id));
    phase('snapshot', t, () => ({}));
    const sources = { 'mitos-init': mappableInitProgram(ctx.initPath), 'mitos-kernels': join(ctx.stateDir, 'kernels') };
    // Settled, not raced: the images must outlive every restore still running.
    const results = await Promise.allSettled(
      children.map((row, i) => {
        const root = roots[i] as RootLayout;
        const dir = join(work, row.id);
        const launched = performance.now();
        return ctx
          .launchChild(row, root, (uidBase) => {
            const linked = performance.now();
            childImages(dump, dir, parentBase, uidBase);
            phase('images', linked, () => ({ child: row.id }));
            return restoreCommand(criu.tool, dump, work, dir, root.rootfs, sources, actionScript);
          })
          .then((l) => {
            keepKernelFeatures('restore', dir);
            phase('launch', launched, () => ({ child: row.id, stats: readStats(dir, 'restore') }));
            return l;
          })
          .catch((err: unknown) => {
            throw restoreFailure(err, join(dir, 'restore.log'));
          });
      }),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    return results.map((r) => ({ ...(r as PromiseFulfilledResult<Launched>).value, closedConnections }));
  } finally {
    removeCheckpointWorkDir(work);
  }
}
