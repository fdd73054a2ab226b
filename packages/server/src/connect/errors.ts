/**
 * Any failure leaving a Connect handler as a ConnectError mapped from our catalogue
 * (codes.ts). Engine errors are summarised as on /v1 (engineFailure), so no host path leaks.
 */
import { ConnectError } from '@connectrpc/connect';
import { engineFailure } from '../errors.js';
import { mitosToConnect } from './codes.js';

/** `fallback` names the catalogue code for a failure that is not already a MitosError. */
export function toConnectError(
  err: unknown,
  fallback: 'exec_failed' | 'file_failed' | 'internal',
  context: Record<string, string>,
  secrets: readonly string[] = [],
): ConnectError {
  if (err instanceof ConnectError) return err;
  return mitosToConnect(engineFailure(err, fallback, context), secrets);
}
