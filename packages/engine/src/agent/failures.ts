/** Failures the agent reports (errno + message), mapped onto the error catalogue in one place. */
import { MitosError } from '@mitos/protocol';
import { splitFields } from './frames.js';

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM',
  2: 'ENOENT',
  13: 'EACCES',
  17: 'EEXIST',
  20: 'ENOTDIR',
  21: 'EISDIR',
  22: 'EINVAL',
  28: 'ENOSPC',
  36: 'ENAMETOOLONG',
  39: 'ENOTEMPTY',
  40: 'ELOOP',
  122: 'EDQUOT',
};

export interface AgentFailure {
  errno: number;
  message: string;
}

export function parseFailure(payload: Buffer): AgentFailure {
  const [errno, message] = splitFields(payload);
  return { errno: Number(errno) || 0, message: message ?? 'agent error' };
}

/** Map an agent-side file failure onto the catalogue (one table, at the boundary). */
export function fileError(failure: AgentFailure, sandbox: string, path: string): MitosError {
  const name = ERRNO_NAMES[failure.errno] ?? `errno ${failure.errno}`;
  const context = { sandbox, path };
  const detail = `${failure.message} (${name})`;
  if (failure.errno === 2) {
    // The sandbox exists (the agent answered): the catalogue's "confirm the id" would mislead.
    return new MitosError('not_found', `no such file or directory: ${path}`, context, {
      remediation:
        'check the path inside the sandbox: list its directory (`mitos files ls ID DIR`, GET /v1/files/list)',
    });
  }
  if (failure.errno === 28 || failure.errno === 122) return new MitosError('disk_full', detail, context);
  return new MitosError('file_failed', detail, context);
}

/** Map an exec's failure frame: an unknown user is the caller's mistake, the rest exec_failed. */
export function execFailure(failure: AgentFailure, sandbox: string, user: string | undefined): MitosError {
  if (user !== undefined && failure.message.startsWith('unknown user')) {
    return new MitosError(
      'invalid_request',
      `no user ${JSON.stringify(user)} in the sandbox`,
      { sandbox, user },
      {
        remediation:
          "name a user listed in the sandbox's /etc/passwd (root always is), or add the user to the template",
      },
    );
  }
  return new MitosError('exec_failed', failure.message, { sandbox });
}
