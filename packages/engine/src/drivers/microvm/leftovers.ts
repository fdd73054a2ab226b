/**
 * What an earlier microvm engine left on a state directory: its VMs cannot be reattached (their
 * host channels were inherited socketpairs), so they are killed and their files removed.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MitosError } from '@mitos/protocol';
import type { CgroupManager } from '../../cgroups/cgroup.js';
import { isSameProcess } from '../../host/proc.js';
import type { StateDatabase } from '../../state/database.js';
import { StateStore } from '../../state/store.js';
import { shmDirFor } from './snapshots.js';

/**
 * Kill QEMUs, cgroups, files and rows that an earlier engine on this state dir left behind.
 * A row whose process is alive but is not a QEMU belongs to the container driver (whose
 * sandboxes do survive restarts): refuse rather than kill it.
 */
export async function reapLeftovers(stateDir: string, db: StateDatabase, cgroups: CgroupManager): Promise<void> {
  const store = new StateStore(db);
  for (const row of store.sandboxes()) {
    const alive = row.initPid !== null && row.initStartTicks !== null && isSameProcess(row.initPid, row.initStartTicks);
    if (alive && !isQemu(row.initPid as number)) {
      throw new MitosError(
        'host_unsupported',
        `the state directory ${stateDir} has running sandboxes of another engine`,
        {},
        {
          remediation: 'use another --state-dir for the microvm engine, or terminate those sandboxes first',
        },
      );
    }
    if (alive) {
      try {
        process.kill(row.initPid as number, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    store.deleteSandbox(row.id);
  }
  for (const id of cgroups.list())
    await cgroups
      .open(id)
      ?.destroy()
      .catch(() => {});
  rmSync(join(stateDir, 'microvm'), { recursive: true, force: true });
  const shm = shmDirFor(stateDir);
  if (existsSync(shm)) rmSync(shm, { recursive: true, force: true });
}

function isQemu(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]?.includes('qemu-system') ?? false;
  } catch {
    return false;
  }
}
