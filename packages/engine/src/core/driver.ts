/**
 * The driver port: the few things that differ between isolation technologies. Everything else
 * a sandbox does (ids, rows, limits, the agent, processes, interpreters, deadlines, the warm
 * pool, the lifecycle) is the host core's (host.ts), written once for every driver.
 *
 * A driver never imports another driver; what two drivers share lives in agent/, cgroups/,
 * host/, storage/ or core/.
 */
import type { NetworkPosture } from '@mitos/protocol';
import type { ClosedConnection, ResourceLimits, SandboxUsage } from '../engine.js';
import type { SandboxRow, TemplateRow } from '../state/store.js';
import type { BuiltImageCache } from '../templates/image-archive.js';
import type { ImageSpec } from '../templates/images.js';

/** Host process identity of a launched sandbox, recorded so a later process can find it. */
export interface Launched {
  initPid: number;
  initStartTicks: string;
  supervisorPid: number | null;
  /** A child of a fork that carries processes: the parent's sockets its processes have closed. */
  closedConnections?: ClosedConnection[];
}

/** The host process identity recorded in a launched row. */
export function launchedOf(row: SandboxRow): Launched {
  return {
    initPid: row.initPid as number,
    initStartTicks: row.initStartTicks as string,
    supervisorPid: row.supervisorPid,
  };
}

/** What the core is about to do, for `admit`. */
export type Admission = 'create' | 'fork' | 'write';

/** Events a driver raises on its own (a VM that died, a parent replaced mid-fork). */
export interface DriverEvents {
  /** The sandbox's host process changed (its row must record the new one). */
  relaunched(id: string, launched: Launched): void;
  /** The sandbox is gone for good; the core terminates it. */
  lost(id: string, why: string): void;
}

/** The driver's image store, as template builds use it (drivers without one cannot build). */
export interface DriverImages {
  has(key: string): boolean;
  /** Publish a read-only copy of a sandbox's root as image `key` (replacing it with `replace`). */
  commit(sandboxId: string, key: string, replace: boolean): Promise<void>;
  /** Import a root filesystem tree (already in the template uid range) as image `key`. */
  importTree(key: string, dir: string): Promise<void>;
  /**
   * Publish image `key` as what `fill` makes of a writable copy of image `parent` (empty tree
   * without one), sharing the parent's unchanged extents. Absent where storage cannot.
   */
  derive?(key: string, parent: string | undefined, fill: (dir: string) => Promise<void>): Promise<void>;
  list(): string[];
  /** Refused with `conflict` while sandboxes still read the image (their shared lower layer). */
  remove(key: string): Promise<void>;
  /** The host path of image `key`'s tree. */
  path(key: string): string;
}

export interface SandboxDriver {
  readonly name: string;
  /**
   * Whether sandboxes outlive the engine process (reattached on the next open). When false,
   * closing the engine ends them.
   */
  readonly survivesRestart: boolean;
  /**
   * Whether a fork carries running processes (and so live interpreters) into the children.
   * When false, the core saves interpreter state into the parent's filesystem before `fork`.
   */
  readonly forkCarriesProcesses: boolean;
  /**
   * Whether a fork carries the processes when asked to (`processes: "all"`): `fork` is then
   * called with `processes` true, after the engine's connection to the parent's agent is closed.
   */
  readonly carriesProcessesOnRequest?: boolean;
  /** Whether a fork can copy a parent that keeps running (ForkOptions.pauseSource false). */
  readonly forksRunningParent: boolean;
  /** Transport: the unix socket on which a sandbox's agent answers. */
  socketPath(id: string): string;
  /** Build, or take from cache, what a template runs; returns the key that names that build. */
  prepareTemplate(templateId: string, image: ImageSpec, onProgress: (line: string) => void): Promise<string>;
  /** Template builds from a spec; absent when the driver's storage cannot snapshot a root. */
  readonly images?: DriverImages;
  /** The build cache of built-in image trees, for moving them between nodes; absent: not movable. */
  readonly imageCache?: BuiltImageCache;
  /** Host uid that sandbox uid 0 maps to on disk (image trees are shifted by it). */
  readonly diskUidBase?: number;
  /** Refuse (with a MitosError) what this driver cannot do or enforce, before anything is made. */
  admit(what: Admission, limits?: ResourceLimits): void;
  /** Make and start the sandbox of a reserved row; resolves once its agent answers. */
  launch(row: SandboxRow, template: TemplateRow): Promise<Launched>;
  /**
   * Branch a running parent into the reserved child rows; one Launched per child, in order.
   * `pauseSource` false (only where forksRunningParent): the parent runs on during the copy.
   */
  fork(parent: SandboxRow, children: SandboxRow[], pauseSource: boolean, processes?: boolean): Promise<Launched[]>;
  /**
   * A child launched ahead, set aside for one child of a (not carried) fork: the cgroup key
   * its row must carry, or undefined (none ready: the fork launches the child itself).
   */
  claimForkSlot?(): string | undefined;
  /** Stop every process of a sandbox (no CPU), keeping memory and files; thaw continues. */
  freeze(row: SandboxRow): Promise<void>;
  thaw(row: SandboxRow): Promise<void>;
  /** Undo everything a sandbox did to the host, whatever state it got to. Idempotent. */
  teardown(row: SandboxRow): Promise<void>;
  usage(row: SandboxRow): Promise<Omit<SandboxUsage, 'sandboxId' | 'egressBytes'>>;
  /** On open: true when a row's sandbox is still alive and its agent answers `ping` (it is kept). */
  reattach(row: SandboxRow, ping: () => Promise<unknown>): Promise<boolean>;
  /**
   * On open, after reattach and reaping: remove host leftovers of no sandbox still `live`
   * (ids), `liveCgroupKeys` being the cgroup keys those sandboxes hold.
   */
  reapOrphans(live: ReadonlySet<string>, liveCgroupKeys: ReadonlySet<string>): Promise<void>;
  /**
   * Warm pool support: give a launched, pooled sandbox a new id (and limits). Drivers without
   * it have no warm pool.
   */
  rename?(pooled: SandboxRow, id: string, limits: ResourceLimits): Promise<void>;
  /** Network postures other than deny; drivers without it refuse them (not_implemented). */
  readonly network?: DriverNetwork;
  close(): Promise<void>;
}

/**
 * A driver's network: it applies a sandbox's recorded posture at launch and fork, moves it
 * with a pooled sandbox's rename and removes it at teardown and on recovery by itself.
 */
export interface DriverNetwork {
  /** Refuse, before anything is made, a posture this host cannot enforce. */
  admit(posture: NetworkPosture): void;
  /** Record the posture a reserved sandbox launches with (launch and fork read it). */
  reserve(sandboxId: string, posture: NetworkPosture): void;
  /** The recorded posture, or undefined for a sandbox launched before any was recorded. */
  posture(sandboxId: string): NetworkPosture | undefined;
  /** Apply a new posture to a running sandbox; connections opened under the old one are cut. */
  change(row: SandboxRow, posture: NetworkPosture): Promise<void>;
  /** Bytes each sandbox sent out through its link. */
  egressBytes(): Promise<Map<string, number>>;
}
