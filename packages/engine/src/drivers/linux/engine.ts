/**
 * The Linux engine: the host core (core/host.ts) over the namespaces driver (driver.ts), and
 * what opening one on a state directory takes (agent binary, directory permissions, storage,
 * cgroups, the interpreter kernels bind-mounted into every sandbox). State lives in SQLite, so
 * a restarted server reattaches running sandboxes and reaps anything half-made.
 */
import { chmodSync, cpSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MitosError } from '@mitos/protocol';
import { detectCgroups } from '../../cgroups/detect.js';
import { removeStaleCheckpoints } from '../../checkpoint/carry.js';
import { SandboxHost } from '../../core/host.js';
import type { KernelWarming } from '../../core/kernel-demand.js';
import type { OciTools } from '../../engine.js';
import { cgroupParentFor } from '../../host/cgroup-parent.js';
import { Spawner } from '../../host/spawner.js';
import { engineDirs, prepareStateDir } from '../../host/state-dir.js';
import { UidRanges } from '../../host/uid-ranges.js';
import { HostNetwork } from '../../network/host-network.js';
import type { DnsUpstream } from '../../network/resolver.js';
import { openDatabase, type StateDatabase } from '../../state/database.js';
import { enableSimpleQuotas } from '../../storage/disk-quota.js';
import { openStorage } from '../../storage/index.js';
import { recordedChains } from '../../templates/oci/layers.js';
import { ociToolsPresent, pullImage, unpackLayout } from '../../templates/oci/pull.js';
import { packLayout, pushImage } from '../../templates/oci/push.js';
import { LinuxDriver } from './driver.js';
import { agentSnapshots, agentSubvolumeDelete, installInitProgram } from './launcher.js';

export interface LinuxEngineOptions {
  stateDir: string;
  /** Template build cache, shared across state dirs. Default $MITOS_CACHE_DIR or /var/cache/mitos. */
  cacheDir?: string;
  uidBase?: number;
  /** Name of the parent cgroup under each controller. */
  cgroupParent?: string;
  storage?: 'btrfs' | 'overlay';
  /** Path of the mitos-agent binary. Default $MITOS_AGENT_PATH or the one built in packages/agent. */
  agentPath?: string;
  /** Share a database with the server; default opens `<stateDir>/mitos.db`. */
  db?: StateDatabase;
  mirror?: string;
  /**
   * Warm, already-launched sandboxes kept per template so a create only renames one (a few
   * ms) instead of snapshotting and launching (tens of ms). 0 disables. Each idle pooled
   * sandbox costs what an idle sandbox costs (see BENCHMARKS.md).
   */
  warmPoolSize?: number;
  /** A template's pool is ended this long after its last use; 0 keeps it. Default 10 minutes. */
  warmPoolIdleMs?: number;
  /** Templates that keep a pool at once; a further one ends the least recently used's. Default 8. */
  warmPoolTemplates?: number;
  /**
   * Which kernels pooled sandboxes start ahead, so a first run_code skips the start-up: `auto`
   * (default: languages in recent use per template, python for code-interpreter templates),
   * `always` (true) or `never` (false). See core/kernel-demand.ts.
   */
  warmKernels?: KernelWarming | boolean;
  /** How long a template's last run_code keeps its pool starting kernels (auto). Default 10 minutes. */
  kernelIdleMs?: number;
  /**
   * Templates whose sandboxes run without the default seccomp filter (each launch is logged
   * as a warning). Only for workloads that need io_uring, perf or the like.
   */
  seccompOptOut?: string[];
  /**
   * Fork slots: children launched ahead (their namespaces, uid range and cgroups ready) so a
   * fork only gives each its root; 0 (default) disables. Each ready slot costs two small host
   * processes and an empty sandbox's namespaces (see BENCHMARKS.md).
   */
  forkSlots?: number;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** Where the sandboxes' resolver forwards allowed names; default $MITOS_DNS_UPSTREAM or /etc/resolv.conf. */
  dnsUpstreams?: DnsUpstream[];
}

// sockaddr_un.sun_path holds 108 bytes including the NUL.
const MAX_SOCKET_PATH = 107;

function defaultKernelsDir(): string {
  if (process.env.MITOS_KERNELS_DIR) return process.env.MITOS_KERNELS_DIR;
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../../../agent/kernels');
}

export function defaultAgentPath(): string {
  if (process.env.MITOS_AGENT_PATH) return process.env.MITOS_AGENT_PATH;
  const here = dirname(fileURLToPath(import.meta.url));
  return resolve(here, '../../../../agent/build/mitos-agent');
}

/** OCI pulls into (and pushes from) the state directory, when skopeo and umoci are installed. */
function ociTools(stateDir: string, uidBase: number, driver: LinuxDriver): OciTools | undefined {
  const images = driver.images;
  if (!images || !ociToolsPresent()) return undefined;
  return {
    pull: (reference, onLine) => pullImage({ dir: stateDir, uidBase, images }, reference, onLine),
    push: (tree, config, reference, onLine) => pushImage({ dir: stateDir, uidBase, tree, config }, reference, onLine),
    chainsOf: (imageKey) => recordedChains(stateDir, imageKey),
    pack: (tree, config, layout, onLine) => packLayout({ uidBase, tree, config }, layout, onLine),
    unpack: (layout, name, label, onLine) =>
      unpackLayout({ dir: stateDir, uidBase, images }, layout, name, label, performance.now(), onLine),
  };
}

export class LinuxEngine extends SandboxHost<LinuxDriver> {
  get storage() {
    return this.driver.storage;
  }

  get cgroups() {
    return this.driver.cgroups;
  }

  /** Fork slots ready now (forkSlots; fork-slots.ts). */
  get forkSlotsReady(): number {
    return this.driver.forkSlotsReady;
  }

  /** The server's sandbox networking (links, addresses, nftables table). */
  get network() {
    return this.driver.hostNetwork;
  }

  static async open(options: LinuxEngineOptions): Promise<LinuxEngine> {
    const opts = { ...options, ...engineDirs(options), agentPath: options.agentPath ?? defaultAgentPath() };
    const { stateDir } = opts;
    if (!existsSync(opts.agentPath)) {
      throw new MitosError(
        'host_unsupported',
        `mitos-agent binary not found at ${opts.agentPath}`,
        {},
        {
          remediation: 'run `npm run build` (it compiles packages/agent with cc), or set MITOS_AGENT_PATH',
        },
      );
    }
    // Root only: sandbox roots are built by the launcher as host root (see the agent's
    // launch-root.c), so neither sandbox uids nor other host users need to enter it.
    prepareStateDir(stateDir, 'private');
    if (join(stateDir, 'run', `${'x'.repeat(64)}.sock`).length > MAX_SOCKET_PATH) {
      throw new MitosError(
        'host_unsupported',
        `state directory path is too long for unix sockets: ${stateDir}`,
        {},
        {
          remediation: 'use a state directory path shorter than 30 characters (e.g. /var/lib/mitos)',
        },
      );
    }
    // Started before anything else, while this process is still small (host/spawner.ts).
    const spawner = new Spawner(opts.agentPath);
    spawner.start();
    try {
      return await LinuxEngine.openWith(options, opts, spawner);
    } catch (err) {
      await spawner.close();
      throw err;
    }
  }

  private static async openWith(
    options: LinuxEngineOptions,
    opts: LinuxEngineOptions & ReturnType<typeof engineDirs> & { agentPath: string },
    spawner: Spawner,
  ): Promise<LinuxEngine> {
    const { stateDir } = opts;
    const ownsDb = !options.db;
    const db = options.db ?? openDatabase(join(stateDir, 'mitos.db'));
    const storage = await openStorage({
      stateDir,
      prefer: options.storage,
      uidBase: opts.uidBase,
      btrfsSnapshotter: (source, targets) => agentSnapshots(spawner, opts.agentPath, source, targets),
      btrfsSubvolumeDeleter: (path) => agentSubvolumeDelete(spawner, opts.agentPath, path),
      btrfsSimpleQuotas: (mountPoint) => enableSimpleQuotas(opts.agentPath, mountPoint),
    });
    const cgroups = detectCgroups({
      parent: cgroupParentFor(stateDir, options.cgroupParent ?? process.env.MITOS_CGROUP_PARENT),
    });
    // Kernels are copied into the state directory, which the sandbox uid can traverse, and
    // bind-mounted read-only into every sandbox.
    cpSync(defaultKernelsDir(), join(stateDir, 'kernels'), { recursive: true });
    // The directory watcher the E2B surface runs inside sandboxes is built beside the agent.
    const watcher = join(dirname(opts.agentPath), 'mitos-watch');
    if (existsSync(watcher)) cpSync(watcher, join(stateDir, 'kernels', 'mitos-watch'));
    chmodSync(join(stateDir, 'kernels'), 0o755);
    const initPath = installInitProgram(opts.agentPath, stateDir);
    // A server killed during a fork that carries processes leaves its checkpoint images.
    removeStaleCheckpoints(stateDir);
    const log = options.log;
    const uidRanges = new UidRanges({ db, stateDir });
    const driver = new LinuxDriver(
      {
        ...opts,
        initPath,
        spawner,
        forkSlots: options.forkSlots,
        log: (level, msg, fields) => log?.(level, msg, fields),
      },
      storage,
      cgroups,
      uidRanges,
      await HostNetwork.open({
        stateDir,
        db,
        log: (level, msg, fields) => log?.(level, msg, fields),
        dnsUpstreams: options.dnsUpstreams,
        spawner,
      }),
    );
    const engine = new LinuxEngine(() => driver, {
      db,
      ownsDb,
      warmPoolSize: options.warmPoolSize,
      warmKernels: options.warmKernels,
      kernelIdleMs: options.kernelIdleMs,
      warmPoolIdleMs: options.warmPoolIdleMs,
      warmPoolTemplates: options.warmPoolTemplates,
      log,
      contextDir: join(stateDir, 'template-context'),
      oci: ociTools(stateDir, opts.uidBase, driver),
    });
    await engine.start();
    return engine;
  }
}
