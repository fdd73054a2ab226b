/** The flat one-liner (wire-v1.md 6.1). */

import { AgentRunError } from './errors.js';
import type { Sandbox } from './sandbox.js';
import { SandboxServer } from './server.js';
import { CATALOGUE_TEMPLATES, closestTemplate, newTemplateWarning } from './template-typo.js';
import type { CallOptions, ClientOptions, Network, ResourceLimits } from './types.js';
import { assertId, assertIdempotencyKey } from './validate.js';

export interface CreateOptions extends ClientOptions, CallOptions {
  /** The sandbox id; generated (`sandbox-xxxxxxxx`) when omitted. */
  id?: string;
  /** Sent with the fork; generated when omitted. */
  idempotencyKey?: string;
  limits?: ResourceLimits;
  /**
   * The sandbox's network posture (deny both ways unless allowed here); also the template's
   * default when this call creates the template.
   */
  network?: Network;
  /** Bind the sandbox to this workspace (created beforehand with `server.workspaces.create`). */
  workspace?: string;
  /**
   * Env for everything the sandbox runs (exec, processes, terminals, run_code); a call's own
   * env wins, and its forks inherit it. Names: letters, digits and _.
   */
  env?: Record<string, string>;
  /**
   * Told when this call created a template that did not exist and whose id is a near miss of a
   * known one (`pyhton`), naming it. Default: a process warning (`MitosWarning`, code
   * MITOS_NEW_TEMPLATE).
   */
  onWarning?: (message: string) => void;
}

/**
 * Fork a sandbox from template `image` and return the handle; a template that does not exist
 * yet is created first (the wire's create-on-unknown). Key and server come from the options,
 * MITOS_API_KEY / MITOS_BASE_URL, or the credentials file written by `mitos auth login`.
 *
 * @example
 * import { create } from '@mitos/sdk';
 * await using sb = await create('python');
 * console.log((await sb.exec('echo hello')).stdout); // hello
 */
export async function create(image = 'python', opts: CreateOptions = {}): Promise<Sandbox> {
  // Check everything before the first request, so a bad fork id leaves no trace.
  assertId(image, 'template');
  if (opts.id !== undefined) assertId(opts.id, 'sandbox');
  if (opts.idempotencyKey !== undefined) assertIdempotencyKey(opts.idempotencyKey);
  const server = SandboxServer.fromAuth(opts);
  const fork = () =>
    server.fork(image, {
      id: opts.id,
      idempotencyKey: opts.idempotencyKey,
      limits: opts.limits,
      workspace: opts.workspace,
      network: opts.network,
      env: opts.env,
      signal: opts.signal,
    });
  // The fork first: the template almost always exists, and asking for it first cost every
  // create a round trip. The wire answers a fork of an unknown template 404 with this cause
  // (wire-v1.md 4.4); a failed fork never consumes its Idempotency-Key, so the retry may reuse it.
  try {
    return await fork();
  } catch (err) {
    if (!(err instanceof AgentRunError && err.status === 404 && err.errorCause === `template "${image}" not found`))
      throw err;
  }
  const template = await server.ensureTemplate(image, {
    initWaitSeconds: 5,
    network: opts.network,
    signal: opts.signal,
  });
  if (template.created) await warnNewTemplate(server, image, opts);
  return fork();
}

async function warnNewTemplate(server: SandboxServer, id: string, opts: CreateOptions): Promise<void> {
  // The hint is a courtesy: a failed listing must not fail the create it follows.
  const listed = await server.listTemplates({ signal: opts.signal }).catch(() => []);
  const suggestion = closestTemplate(id, [...CATALOGUE_TEMPLATES, ...listed.map((t) => t.id)]);
  // A new id with nothing close to it is a deliberate name (`my-agent`), not a typo.
  if (suggestion === undefined) return;
  const message = newTemplateWarning(id, suggestion);
  if (opts.onWarning) opts.onWarning(message);
  else process.emitWarning(message, { type: 'MitosWarning', code: 'MITOS_NEW_TEMPLATE' });
}
