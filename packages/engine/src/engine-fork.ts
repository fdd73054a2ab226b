/** The fork part of the engine port (engine.ts): what a fork is asked for and what it made. */
import type { ForkCarried, ForkProcessesMode, NetworkPosture } from '@mitos/protocol';
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
   * `auto` (all when the parent runs processes beyond its agent, where the engine can).
   * Omitted: all on an engine that copies the whole machine; on linux, whose carried fork is a
   * slower checkpoint and restore, files and interpreter state. Every process left out is
   * named in the report.
   */
  processes?: ForkProcessesMode;
}

// The report is the contract's (protocol ForkCarriedSchema): engines differ in what they carry,
// and the API reports it per fork.
export type { ClosedConnection, ForkCarried, ForkProcessesMode, NotCarriedProcess } from '@mitos/protocol';

export interface ForkOutcome {
  parent: SandboxInfo;
  children: SandboxInfo[];
  carried: ForkCarried;
  forkTimeMs: number;
}
