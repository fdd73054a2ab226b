/**
 * Which sandbox a Connect call is about. The current clients name it in the `X-Sandbox-Id`
 * header on every call (the messages themselves carry no sandbox), and the terminal
 * WebSocket in its `sandbox` query parameter. Same rules as the /v1 routes: a valid id of a
 * live sandbox, running for anything that starts work inside it, decided by the engine call's
 * own lookup.
 */
import { MitosError } from '@mitos/protocol';
import { requireId } from '../validate.js';

export const SANDBOX_ID_HEADER = 'x-sandbox-id';

export function sandboxIdFrom(headers: Headers): string {
  const id = headers.get(SANDBOX_ID_HEADER) ?? '';
  if (id === '') {
    throw new MitosError('invalid_request', 'the X-Sandbox-Id header is required on sandbox.v1.Sandbox calls', {
      header: 'X-Sandbox-Id',
    });
  }
  return requireId(id, 'X-Sandbox-Id');
}
