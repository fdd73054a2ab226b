/** The fork part of the engine port (engine.ts): what a fork is asked for and what it made. */
import type { NetworkPosture } from '@mitos/protocol';
import type { Acceptance, SandboxInfo } from './engine.js';

export interface ForkOptions extends Acceptance {
  count: number;
  /** Child ids; generated when absent. Must have `count` entries when given. */
  ids?: string[];
  /**
   * Hold the parent still while its state is captured, so memory and files are one instant
   * (default true). false lets the parent run on during the copy: each child root is still an
   * atomic snapshot, but different roots may see different instants.
   */
  pauseSource?: boolean;
  /** The children's network posture; the parent's when absent. Each child gets its own address. */
  network?: NetworkPosture;
  /**
   * Carry the parent's running processes: `all` (refused where the engine cannot), `none`, or
   * `auto` (default: all where the engine can; elsewhere the report names each process left out).
   */
  processes?: ForkProcessesMode;
}

export type ForkProcessesMode = 'all' | 'none' | 'auto';

/** A parent process the children do not have, and why. */
export interface NotCarriedProcess {
  pid: number;
  command: string;
  reason: string;
}

/** What a fork carried into the children (engines differ; the API reports it per fork). */
export interface ForkCarried {
  filesystem: boolean;
  /** Interpreter state (run_code variables) carried, and the names that could not be. */
  interpreter: boolean;
  interpreterSkipped: string[];
  /** Running processes carried (only engines that checkpoint whole process trees). */
  processes: boolean;
  /** Each parent process the children do not have (empty when every one was carried). */
  processesNotCarried: NotCarriedProcess[];
  /** Open network connections: never (each child has its own address and link). */
  connections: false;
}

export interface ForkOutcome {
  parent: SandboxInfo;
  children: SandboxInfo[];
  carried: ForkCarried;
  forkTimeMs: number;
}
