import type { Condition, KubeObject } from '../meta.js';
import type { int32, Quantity } from '../scalars.js';
import type { EnvVar, NetworkPolicy, SandboxVolume } from './shared.js';

/** One declarative build step; only the fields matching `type` are meaningful. */
export interface BuildStep {
  type: 'run' | 'env' | 'workdir' | 'copy';
  run?: string;
  envName?: string;
  envValue?: string;
  workdir?: string;
  source?: string;
  dest?: string;
}

export interface TemplateResources {
  cpu?: Quantity;
  memory?: Quantity;
  gpu?: {
    /** @minimum 1 */
    count: int32;
    type?: string;
  };
}

export interface SandboxTemplateSpec {
  /** Base image: a catalogue name such as `python`, an OCI reference, or a rootfs path. */
  image: string;
  /** Legacy build-time commands; `buildSteps` replaces them when non-empty. */
  init?: string[];
  buildSteps?: BuildStep[];
  command?: string[];
  env?: EnvVar[];
  resources?: TemplateResources;
  volumes?: SandboxVolume[];
  networkPolicy?: NetworkPolicy;
  /** @default false */
  encrypted?: boolean;
  minIsolationTier?: 'hardware-kvm' | 'pvm' | 'gvisor';
  /** @default false */
  requireHardwareKvm?: boolean;
}

/** No status fields are defined; the subresource exists for tooling. */
export interface SandboxTemplateStatus {
  conditions?: Condition[];
}

/**
 * What a sandbox runs: the image and how to prepare it.
 * @kind SandboxTemplate
 * @plural sandboxtemplates
 * @printcolumn Image string .spec.image
 * @printcolumn Age date .metadata.creationTimestamp
 */
export interface SandboxTemplate extends KubeObject {
  spec: SandboxTemplateSpec;
  status?: SandboxTemplateStatus;
}
