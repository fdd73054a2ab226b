/**
 * A sandbox's own environment (`create({ env })`): checked once at create, kept with the row,
 * given to every command, process, terminal and interpreter the sandbox runs, and carried into
 * its forks. The order is template < sandbox < call: a call's env wins. Values are never named
 * in an error or a log (they are often credentials); names are.
 */
import { type ErrorContext, MitosError } from '@mitos/protocol';

export type SandboxEnv = Record<string, string>;

/** Most variables one sandbox may carry, and their total size (names and values). */
export const MAX_ENV_ENTRIES = 256;
export const MAX_ENV_BYTES = 128 * 1024;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NAME_RULE = 'env names are letters, digits and _, not starting with a digit (e.g. API_URL)';

/** The env to keep for a new sandbox: checked; undefined when there is none. */
export function sandboxEnv(env: SandboxEnv | undefined): SandboxEnv | undefined {
  if (env === undefined) return undefined;
  const entries = Object.entries(env);
  if (entries.length === 0) return undefined;
  if (entries.length > MAX_ENV_ENTRIES) {
    throw invalid(
      `env has ${entries.length} variables; at most ${MAX_ENV_ENTRIES} are allowed`,
      'send fewer variables',
    );
  }
  let bytes = 0;
  for (const [name, value] of entries) {
    if (!NAME.test(name) || name.length > 256) {
      throw invalid(`invalid env name ${JSON.stringify(name.slice(0, 64))}`, NAME_RULE, { name: name.slice(0, 64) });
    }
    if (typeof value !== 'string') throw invalid(`env ${name} must be a string`, 'send every env value as a string');
    // The agent passes the environment as NUL-separated strings: a NUL would split a value.
    if (value.includes('\0')) {
      throw invalid(`env ${name} contains a NUL byte`, 'remove the NUL byte from the value', { name });
    }
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value) + 2;
  }
  if (bytes > MAX_ENV_BYTES) {
    throw invalid(
      `env is ${bytes} bytes; at most ${MAX_ENV_BYTES} are allowed`,
      'keep large values in a file in the sandbox',
    );
  }
  return { ...env };
}

/** A call's options with the sandbox's env under the call's own (the call wins). */
export function withSandboxEnv<T extends { env?: SandboxEnv }>(sandbox: { env?: SandboxEnv }, options: T): T {
  if (!sandbox.env) return options;
  return { ...options, env: { ...sandbox.env, ...options.env } };
}

function invalid(message: string, remediation: string, context: ErrorContext = {}): MitosError {
  return new MitosError('invalid_request', message, context, { remediation });
}
