/**
 * Stable process exit codes. They are public: scripts branch on them, so never renumber.
 * @module
 */

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
