/** How a SandboxHost is opened: its database, pool size, log, build context store and OCI tools. */
import type { OciTools } from '../engine.js';
import type { StateDatabase } from '../state/database.js';
import type { DriverEvents, SandboxDriver } from './driver.js';
import type { KernelWarming } from './kernel-demand.js';

export type EngineLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface HostOptions {
  db: StateDatabase;
  /** Close the database with the engine (it opened it). */
  ownsDb: boolean;
  /** Launched sandboxes kept per template (drivers that can rename); 0 disables. */
  warmPoolSize?: number;
  /**
   * A template's pooled sandboxes are ended this long after its last use (create, build,
   * ensure) and refilled on the next; 0 keeps them for ever. Default 10 minutes.
   */
  warmPoolIdleMs?: number;
  /**
   * Templates that keep a pool at once (default 8): a use of one more ends the pool of the one
   * used least recently, so pooled sandboxes never exceed warmPoolTemplates x warmPoolSize.
   */
  warmPoolTemplates?: number;
  /**
   * Which kernels pooled sandboxes start ahead (each costs its memory per pooled sandbox):
   * `auto` (default) those of languages the template's sandboxes ran code in recently, and
   * python for code-interpreter templates; `always` (or true) python in every pool, plus any in
   * recent use; `never` (or false) none. See kernel-demand.ts.
   */
  warmKernels?: KernelWarming | boolean;
  /** How long a template's last run_code keeps its pool starting kernels (auto). Default 10 minutes. */
  kernelIdleMs?: number;
  log?: EngineLog;
  /** Blob store of template build contexts (templates built from a spec). */
  contextDir?: string;
  /** Pull and push of OCI images for templates built from a spec (absent: template ids only). */
  oci?: OciTools;
}

/** Builds the driver once the host exists, so the driver can raise events on it. */
export type DriverFactory<D extends SandboxDriver> = (events: DriverEvents) => D;
