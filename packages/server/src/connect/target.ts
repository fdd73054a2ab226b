/**
 * Which sandbox a Connect call is about. The current clients name it in the `X-Sandbox-Id`
 * header on every call (the messages themselves carry no sandbox), and the terminal
 * WebSocket in its `sandbox` query parameter. Same rules as the /v1 routes: a valid id of a
 * live sandbox, running for anything that starts work inside it.
 */
import type { Engine, SandboxInfo } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import { liveSandbox } from '../lookup.js';
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

export function requireLive(engine: Engine, id: string): SandboxInfo {
  const sandbox = liveSandbox(engine, id);
  if (sandbox === undefined) throw new MitosError('not_found', `sandbox "${id}" not found`, { sandbox: id });
  return sandbox;
}

export function requireRunning(engine: Engine, id: string): SandboxInfo {
  const sandbox = requireLive(engine, id);
  if (sandbox.state !== 'running') {
    throw new MitosError('sandbox_not_running', `sandbox "${id}" is ${sandbox.state}`, {
      sandbox: id,
      state: sandbox.state,
    });
  }
  return sandbox;
}
