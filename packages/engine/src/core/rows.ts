/** Sandbox and template rows: how they are made, checked and shown. One rule for every driver. */
import { isValidId, MitosError, newSandboxId } from '@mitos/protocol';
import type { ForkOptions, ResourceLimits, SandboxInfo, TemplateInfo } from '../engine.js';
import type { SandboxRow, TemplateRow } from '../state/store.js';

/** Most children one fork may make. */
export const MAX_FORK_COUNT = 64;

const ID_RULE = 'use 1-64 characters: letters, digits, _ and -, starting with a letter or digit';

export function assertValidId(kind: 'sandbox' | 'template', id: string): void {
  if (!isValidId(id)) {
    throw new MitosError('invalid_request', `invalid ${kind} id ${JSON.stringify(id)}`, {}, { remediation: ID_RULE });
  }
}

export function alreadyExists(id: string): MitosError {
  return new MitosError(
    'conflict',
    `sandbox "${id}" already exists`,
    { sandbox: id },
    { remediation: 'choose another id, or terminate the existing sandbox first' },
  );
}

/** The child ids of a fork: given or generated, checked. */
export function forkChildIds(options: ForkOptions): string[] {
  const count = options.ids?.length ?? options.count;
  if (!Number.isInteger(count) || count < 1 || count > MAX_FORK_COUNT) {
    throw new MitosError('invalid_request', `fork count must be 1..${MAX_FORK_COUNT}, got ${count}`);
  }
  if (options.ids && options.ids.length !== options.count) {
    throw new MitosError('invalid_request', `got ${options.ids.length} child ids for a fork of ${options.count}`);
  }
  const ids = options.ids ?? Array.from({ length: count }, () => newSandboxId());
  if (new Set(ids).size !== ids.length || !ids.every(isValidId)) {
    throw new MitosError('invalid_request', 'child ids must be unique valid ids');
  }
  return ids;
}

export function blankRow(id: string, templateId: string, limits: ResourceLimits, cgroupKey = id): SandboxRow {
  return {
    id,
    templateId,
    state: 'creating',
    createdAt: new Date(),
    forkTimeMs: 0,
    hostname: id,
    limits,
    parentId: null,
    generation: 0,
    initPid: null,
    initStartTicks: null,
    supervisorPid: null,
    cgroupKey,
  };
}

/** The template's limits with the caller's defined overrides. */
export function mergeLimits(base: ResourceLimits, overrides: Partial<ResourceLimits> | undefined): ResourceLimits {
  const defined = Object.fromEntries(Object.entries(overrides ?? {}).filter(([, v]) => v !== undefined));
  return { ...base, ...defined };
}

export function publicTemplate(t: TemplateRow): TemplateInfo {
  const { imageKey: _key, ...rest } = t;
  return rest;
}

export function publicSandbox(r: SandboxRow): SandboxInfo {
  return {
    id: r.id,
    templateId: r.templateId,
    state: r.state,
    createdAt: r.createdAt,
    forkTimeMs: r.forkTimeMs,
    hostname: r.hostname,
    limits: r.limits,
    parentId: r.parentId,
    generation: r.generation,
    ...(r.forkCarried ? { forkCarried: r.forkCarried } : {}),
    ...(r.env ? { env: r.env } : {}),
  };
}
