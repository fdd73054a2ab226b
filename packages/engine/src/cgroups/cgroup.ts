/**
 * cgroup limits for one sandbox. Implementations: cgroup v1 (one directory per controller,
 * as on this host) and cgroup v2 (one unified directory, most real hosts).
 */
import type { ResourceLimits } from '../engine.js';

export interface SandboxCgroup {
  readonly sandboxId: string;
  /** The `cgroup.procs` files the launcher writes the sandbox init's pid into. */
  readonly procsFiles: string[];
  setLimits(limits: ResourceLimits): Promise<void>;
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** Pids of every task in the sandbox, as seen from the host. */
  pids(): Promise<number[]>;
  /** SIGKILL every task, wait until the cgroup is empty (bounded), then remove it. Idempotent. */
  destroy(): Promise<void>;
  memoryBytes(): Promise<number>;
  /** Total CPU time consumed, in nanoseconds. */
  cpuUsageNs(): Promise<number>;
}

export interface CgroupManager {
  readonly version: 'v1' | 'v2';
  /** Create (or reuse) the cgroup for a sandbox and apply limits. */
  create(sandboxId: string, limits: ResourceLimits): Promise<SandboxCgroup>;
  /** Open an existing sandbox cgroup after a server restart; undefined if absent. */
  open(sandboxId: string): SandboxCgroup | undefined;
  /** Ids of all sandbox cgroups present (to reap orphans). */
  list(): string[];
  /**
   * The `cgroup.procs` of the engine's own cgroup (attach-prime.ts): writing its own pid there
   * starts the wait a sandbox's attach would otherwise pay. Undefined when unknown.
   */
  readonly primeFile?: string;
}
