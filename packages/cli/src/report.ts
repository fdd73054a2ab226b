/**
 * How errors reach the user: one summary line plus cause and remediation on stderr, or the
 * wire envelope as JSON with --json. Never a stack trace, never a key.
 * @module
 */
import { redact } from '@mitos/protocol/client';
import { AgentRunError, type ErrorEnvelopeJson } from '@mitos/sdk';
import { ExitCode } from './exit-codes.js';

export function errorEnvelope(err: unknown): ErrorEnvelopeJson {
  if (err instanceof AgentRunError) return err.toEnvelope();
  const message = err instanceof Error ? err.message : String(err);
  // Local I/O (credentials file, stdin) fails with Node system errors: the user can fix those.
  const sys = err as { code?: unknown; syscall?: unknown };
  if (typeof sys.code === 'string' && typeof sys.syscall === 'string') {
    return {
      error: {
        code: 'io_error',
        message,
        cause: sys.code,
        remediation: 'check the path exists and is writable by you',
      },
    };
  }
  return {
    error: {
      code: 'internal',
      message,
      remediation: 'this is likely a bug in the mitos CLI; please report it with the command you ran',
    },
  };
}

export function formatError(err: unknown, json: boolean, secrets: ReadonlyArray<string | undefined>): string {
  const env = errorEnvelope(err);
  const text = json ? JSON.stringify(env) : formatText(env);
  // The SDK already redacts server bodies; this also covers local errors that quote input.
  return redact(text, secrets);
}

function formatText({ error }: ErrorEnvelopeJson): string {
  const lines = [`error [${error.code}]: ${error.message}`];
  if (error.cause) lines.push(`  cause: ${error.cause}`);
  if (error.remediation) lines.push(`  remediation: ${error.remediation}`);
  return lines.join('\n');
}

/** `sk-live-0123abcd` -> `sk-...abcd`; short keys show nothing at all. */
export function maskKey(key: string): string {
  return key.length < 12 ? '****' : `${key.slice(0, 3)}...${key.slice(-4)}`;
}

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
    case 'not_mitos_server':
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
