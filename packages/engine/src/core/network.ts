/**
 * Network postures in the host core: which one a sandbox gets, and the refusal for drivers
 * that cannot enforce anything but deny (their sandboxes have only loopback).
 */
import { DENY_POSTURE, isClosedPosture, MitosError, type NetworkPosture } from '@mitos/protocol';
import type { SandboxRow, TemplateRow } from '../state/store.js';
import type { SandboxDriver } from './driver.js';

export function admitPosture(driver: SandboxDriver, posture: NetworkPosture): void {
  if (driver.network) {
    driver.network.admit(posture);
    return;
  }
  if (isClosedPosture(posture)) return;
  throw new MitosError(
    'not_implemented',
    `the ${driver.name} engine enforces only the deny network posture (sandboxes have loopback only)`,
    {},
    {
      remediation: 'create the sandbox with egress "deny" and inbound "deny", or run the server with the linux engine',
    },
  );
}

/** What a sandbox may reach now: its recorded posture, else its template's. */
export function effectivePosture(
  driver: SandboxDriver,
  row: SandboxRow,
  template: TemplateRow | undefined,
): NetworkPosture {
  return driver.network?.posture(row.id) ?? template?.network ?? DENY_POSTURE;
}

export function samePosture(a: NetworkPosture, b: NetworkPosture): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
