/**
 * Network postures in the host core: which one a sandbox gets, and the refusal for drivers
 * that cannot enforce anything but deny (their sandboxes have only loopback).
 */
import { DENY_POSTURE, isClosedPosture, MitosError, type NetworkPosture } from '@mitos/protocol';
import type { SandboxRow, StateStore, TemplateRow } from '../state/store.js';
import type { SandboxDriver } from './driver.js';

/** The posture, once the driver has said it can enforce it (throws otherwise). */
export function admitted(driver: SandboxDriver, posture: NetworkPosture): NetworkPosture {
  if (driver.network) {
    driver.network.admit(posture);
    return posture;
  }
  if (isClosedPosture(posture)) return posture;
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
export function effectivePosture(driver: SandboxDriver, store: StateStore, row: SandboxRow): NetworkPosture {
  return driver.network?.posture(row.id) ?? store.template(row.templateId)?.network ?? DENY_POSTURE;
}

export async function changePosture(
  driver: SandboxDriver,
  store: StateStore,
  row: SandboxRow,
  posture: NetworkPosture,
): Promise<NetworkPosture> {
  await driver.network?.change(row, admitted(driver, posture));
  return effectivePosture(driver, store, row);
}

/**
 * A pooled sandbox was launched with its template's posture; only a create asking for another
 * pays for a change. A change that fails ends the sandbox rather than hand it out half-set.
 */
export async function handOutPosture(
  driver: SandboxDriver,
  pooled: SandboxRow,
  posture: NetworkPosture,
  template: TemplateRow,
  teardown: (row: SandboxRow) => Promise<void>,
): Promise<void> {
  if (!driver.network || JSON.stringify(posture) === JSON.stringify(template.network)) return;
  await driver.network.change(pooled, posture).catch(async (err) => {
    await teardown(pooled).catch(() => {});
    throw err;
  });
}

export async function egressBytesOf(driver: SandboxDriver, sandboxId: string): Promise<number> {
  return (await driver.network?.egressBytes())?.get(sandboxId) ?? 0;
}
