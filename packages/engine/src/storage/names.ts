/**
 * Names of things inside a storage directory. Sandbox ids and image keys become path
 * components, so they are checked here once: a `..` or `/` in an id must never reach a path.
 */
import { randomBytes } from 'node:crypto';
import { MitosError } from '@mitos/protocol';
import { isProcessAlive } from '../templates/build-lock.js';

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function checkName(kind: 'sandbox id' | 'image key', name: string): string {
  if (!SAFE_NAME.test(name) || name.includes('..')) {
    throw new MitosError('invalid_request', `invalid ${kind}: ${JSON.stringify(name)}`);
  }
  return name;
}

// Temp names made by this process: one with our pid that is not in here was left by an earlier
// process that had the same pid (a server that is pid 1 in a container restarts as pid 1).
const madeHere = new Set<string>();

/** A temp name that says which process made it, so debris of dead processes can be found. */
export function tempName(final: string): string {
  const name = `.tmp-${final}-${process.pid}-${randomBytes(3).toString('hex')}`;
  madeHere.add(name);
  return name;
}

/** True for a temp name whose creator is no longer running. */
export function isStaleTemp(name: string): boolean {
  const m = /^\.tmp-.+-(\d+)-[0-9a-f]{6}$/.exec(name);
  if (!m) return false;
  const pid = Number(m[1]);
  if (pid === process.pid) return !madeHere.has(name);
  return !isProcessAlive(pid);
}

export function isTemp(name: string): boolean {
  return name.startsWith('.tmp-');
}
