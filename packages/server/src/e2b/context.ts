/**
 * What every E2B handler shares, built once by mountE2b.
 */
import type { Engine, SandboxDetail, SandboxInfo } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import type { Logger } from 'pino';
import type { E2bCredentials } from './credentials.js';
import type { SandboxEvents } from './events.js';
import type { SandboxLifecycleLock } from './lifecycle-lock.js';
import type { E2bSandboxRow, E2bSandboxStore } from './store.js';

/** The envd version we report: high enough that every SDK feature we serve is switched on. */
export const ENVD_VERSION = '0.6.4';
export const ENVD_PORT = 49983;
export const CODE_INTERPRETER_PORT = 49999;
/** E2B's conventional account inside the sandbox. */
export const DEFAULT_USER = { name: 'user', uid: 1000, gid: 1000, home: '/home/user' } as const;

export interface E2bContext {
  engine: Engine;
  store: E2bSandboxStore;
  credentials: E2bCredentials;
  events: SandboxEvents;
  logger: Logger;
  /** Secrets scrubbed from every error message. */
  secrets: readonly string[];
  /** Ceiling for timeouts in seconds; 0 = none. */
  maxTimeoutSeconds: number;
  /** Pause, resume, connect and snapshots of a sandbox, one at a time. */
  lifecycle: SandboxLifecycleLock;
}

/** A live sandbox this tenant owns; anything else (absent, gone, another tenant's) is 404. */
export function ownedSandbox(ctx: E2bContext, tenant: string, id: string): { row: E2bSandboxRow; info: SandboxInfo } {
  const row = ctx.store.get(id);
  const info = ctx.engine.get(id);
  if (row === undefined || row.owner !== tenant || info === undefined || info.state === 'terminated') {
    throw new MitosError('not_found', `sandbox "${id}" not found`);
  }
  return { row, info };
}

/**
 * This tenant's row of a sandbox with no read of the engine's: for a call whose own engine
 * lookup decides whether the sandbox is live (terminate: false is 404).
 */
export function ownedRow(ctx: E2bContext, tenant: string, id: string): E2bSandboxRow {
  const row = ctx.store.get(id);
  if (row === undefined || row.owner !== tenant) throw new MitosError('not_found', `sandbox "${id}" not found`);
  return row;
}

/** As ownedSandbox, with the posture and deadline from the same one read of the engine's row. */
export function ownedSandboxDetail(
  ctx: E2bContext,
  tenant: string,
  id: string,
): { row: E2bSandboxRow; info: SandboxDetail } {
  const row = ownedRow(ctx, tenant, id);
  const info = ctx.engine.describe(id);
  if (info === undefined || info.state === 'terminated') throw new MitosError('not_found', `sandbox "${id}" not found`);
  return { row, info };
}

/** A live E2B sandbox regardless of tenant (envd traffic is authorized by its own token). */
export function liveE2bSandbox(ctx: E2bContext, id: string): { row: E2bSandboxRow; info: SandboxInfo } {
  const row = ctx.store.get(id);
  const info = ctx.engine.get(id);
  if (row === undefined || info === undefined || info.state === 'terminated') {
    throw new MitosError('not_found', `sandbox "${id}" not found`);
  }
  return { row, info };
}

export function requireRunning(info: SandboxInfo): void {
  if (info.state !== 'running') {
    throw new MitosError('sandbox_not_running', `sandbox "${info.id}" is ${info.state}`, { sandbox: info.id });
  }
}

/** Seconds from a client into a bounded whole number. */
export function timeoutSeconds(ctx: E2bContext, value: unknown, field: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new MitosError('invalid_request', `${field} must be a whole number of seconds >= 0`);
  }
  if (ctx.maxTimeoutSeconds > 0 && value > ctx.maxTimeoutSeconds) {
    throw new MitosError(
      'timeout_too_large',
      `${field} ${value}s is over the server's ceiling of ${ctx.maxTimeoutSeconds}s`,
    );
  }
  return value;
}
