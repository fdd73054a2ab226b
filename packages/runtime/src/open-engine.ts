/**
 * The one place that knows every engine driver: `--engine` picks one, and the rest of the
 * program sees only the `Engine` port.
 */
import { type Engine, LinuxEngine, MicroVmEngine, type StateDatabase } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';

export type EngineKind = 'linux' | 'microvm';

export const ENGINE_KINDS: readonly EngineKind[] = ['linux', 'microvm'];

/** Launched sandboxes kept ready per template by the linux driver unless `--warm-pool` says otherwise. */
export const DEFAULT_WARM_POOL_SIZE = 2;

/**
 * Fork children the linux driver keeps launched ahead (namespaces, uid range and cgroups
 * ready), so a fork only gives each its root: about 10 ms of each fork child (BENCHMARKS.md).
 */
export const DEFAULT_FORK_SLOTS = 2;

export interface OpenEngineOptions {
  stateDir: string;
  db: StateDatabase;
  /** Linux driver only; default DEFAULT_WARM_POOL_SIZE. */
  warmPoolSize?: number;
  /** Linux driver only; default DEFAULT_FORK_SLOTS. */
  forkSlots?: number;
  /**
   * Linux driver only: true starts python kernels in every pooled sandbox, false in none;
   * absent: where run_code is in recent use (the engine's `auto`).
   */
  warmKernels?: boolean;
  cgroupParent?: string;
  /** Linux driver only: templates whose sandboxes run without the default seccomp filter. */
  seccompOptOut?: string[];
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

export async function openEngine(kind: EngineKind, o: OpenEngineOptions): Promise<Engine> {
  const common = { stateDir: o.stateDir, db: o.db, log: o.log, cgroupParent: o.cgroupParent };
  if (kind === 'microvm') {
    if ((o.seccompOptOut?.length ?? 0) > 0) {
      // A microVM has its own kernel: there is no host seccomp filter to opt out of.
      throw new MitosError('invalid_request', '--seccomp-opt-out applies to the linux engine only', {
        engine: 'microvm',
      });
    }
    if ((o.forkSlots ?? 0) > 0) {
      throw new MitosError(
        'not_implemented',
        '--fork-slots applies to the linux engine only',
        { engine: 'microvm' },
        { remediation: 'omit --fork-slots with --engine microvm (a microVM fork restores a snapshot)' },
      );
    }
    if (o.warmKernels === true) {
      throw new MitosError(
        'not_implemented',
        '--warm-kernels applies to the linux engine only',
        { engine: 'microvm' },
        {
          remediation: 'omit --warm-kernels with --engine microvm',
        },
      );
    }
    return MicroVmEngine.open(common);
  }
  return LinuxEngine.open({
    ...common,
    warmPoolSize: o.warmPoolSize ?? DEFAULT_WARM_POOL_SIZE,
    forkSlots: o.forkSlots ?? DEFAULT_FORK_SLOTS,
    warmKernels: o.warmKernels,
    seccompOptOut: o.seccompOptOut,
  });
}

/** What the startup log line says about the driver (storage and cgroups, or the accelerator). */
export function describeEngine(engine: Engine): Record<string, string> {
  if (engine instanceof LinuxEngine) return { storage: engine.storage.kind, cgroups: engine.cgroups.version };
  if (engine instanceof MicroVmEngine) return { accelerator: engine.accelerator.accel };
  return {};
}
