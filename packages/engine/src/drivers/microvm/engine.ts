import { join } from 'node:path';
import { MitosError } from '@mitos/protocol';
import { detectCgroups } from '../../cgroups/detect.js';
import { SandboxHost } from '../../core/host.js';
import { cgroupParentFor } from '../../host/cgroup-parent.js';
import { engineDirs, prepareStateDir } from '../../host/state-dir.js';
import { openDatabase, type StateDatabase } from '../../state/database.js';
import type { AcceleratorChoice } from './accel.js';
import { MicroVmDriver } from './driver.js';
import { firecrackerBinary } from './firecracker.js';
import type { ForkTimings } from './fork.js';
import { DEFAULT_VM_ID_BASE, IdAllocator } from './ids.js';
import { reapLeftovers } from './leftovers.js';
import { defaultGuestPath } from './paths.js';

export interface MicroVmEngineOptions {
  stateDir: string;
  /** Template, kernel and disk cache. Default $MITOS_CACHE_DIR or /var/cache/mitos. */
  cacheDir?: string;
  /** uid base the cached template trees are shifted by (shared with the container driver). */
  uidBase?: number;
  /** First host id of the range QEMU uids and snapshot gids come from. */
  vmIdBase?: number;
  cgroupParent?: string;
  db?: StateDatabase;
  mirror?: string;
  /** VMs kept restored and warmed ahead per template snapshot (default 1; 0 disables). */
  poolSize?: number;
  guestPath?: string;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

export class MicroVmEngine extends SandboxHost<MicroVmDriver> {
  static async open(options: MicroVmEngineOptions): Promise<MicroVmEngine> {
    const opts = { ...options, ...engineDirs(options), guestPath: options.guestPath ?? defaultGuestPath() };
    const { stateDir } = opts;
    // QEMU runs as an unprivileged uid and must traverse to its own directory and snapshots.
    prepareStateDir(stateDir, 'traversable');
    const ownsDb = !options.db;
    const db = options.db ?? openDatabase(join(stateDir, 'mitos.db'));
    const cgroups = detectCgroups({
      parent: cgroupParentFor(stateDir, options.cgroupParent ?? process.env.MITOS_CGROUP_PARENT, 'mitos-vm'),
    });
    // Whatever a previous engine left here is unreachable now: reap it before making anything.
    await reapLeftovers(stateDir, db, cgroups);
    const log = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) =>
      options.log?.(level, msg, fields);
    const ids = new IdAllocator(options.vmIdBase ?? DEFAULT_VM_ID_BASE);
    const engine = new MicroVmEngine((events) => new MicroVmDriver({ ...opts, log }, cgroups, ids, events), {
      db,
      ownsDb,
      log,
    });
    const firecracker = firecrackerBinary();
    if (firecracker) {
      engine.log(
        'warn',
        'a firecracker binary is installed, but its adapter is a sketch (firecracker.ts): using QEMU',
        {
          firecracker,
        },
      );
    }
    await engine.start();
    return engine;
  }

  /** KVM or TCG and why (known once the guest kernel is cached; a host-only guess before). */
  get accelerator(): AcceleratorChoice {
    return this.driver.accelerator;
  }

  /** Phases of the last fork (benchmarks). */
  get lastForkTimings(): ForkTimings | undefined {
    return this.driver.lastForkTimings;
  }

  /**
   * Boot a throwaway VM of a template from its disk (no snapshot) and time it to the agent's
   * hello: what every create would cost without template snapshots.
   */
  coldBootMs(templateId: string): Promise<number> {
    const template = this.store.template(templateId);
    if (!template) throw new MitosError('not_found', `template "${templateId}" not found`);
    return this.driver.coldBootMs(template);
  }

  /** Host pids of the VMs restored and warmed ahead, waiting to become sandboxes. */
  pooledVmPids(): number[] {
    return this.driver.pooledVmPids();
  }

  /** Host pid of a sandbox's QEMU (benchmarks read its smaps). */
  vmPid(sandboxId: string): number | undefined {
    return this.driver.vmPid(sandboxId);
  }
}
