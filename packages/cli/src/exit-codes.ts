/**
 * Stable process exit codes. They are public: scripts branch on them, so never renumber.
 * @module
 */
import { AgentRunError } from '@mitos/sdk';

export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  notFound: 3,
  auth: 4,
  connection: 5,
  timeout: 124,
} as const;

export const EXIT_CODE_HELP = `Exit codes:
  0    success
  1    the command failed (generic error)
  2    usage error: bad flags or arguments, invalid id or timeout
  3    not found: unknown sandbox, template or path
  4    authentication error: missing or rejected API key
  5    connection error: no mitos server at the base URL
  124  timeout: the command or the request ran out of time
  sandbox exec and run exit with the command's own exit code.`;

/** Map an error to its exit code by its stable `code`, never by message text. */
export function exitCodeFor(err: unknown): number {
  if (!(err instanceof AgentRunError)) return ExitCode.failed;
  switch (err.code) {
    case 'not_found':
      return ExitCode.notFound;
    case 'unauthorized':
    case 'forbidden':
      return ExitCode.auth;
    case 'connection_failed':
      return ExitCode.connection;
    case 'exec_timeout':
    case 'request_timeout':
      return ExitCode.timeout;
    case 'invalid_request':
    case 'invalid_base_url':
    case 'timeout_too_large':
      return err.status === undefined ? ExitCode.usage : ExitCode.failed;
    default:
      return ExitCode.failed;
  }
}
