/**
 * How errors reach the user: one summary line plus cause and remediation on stderr, or the
 * wire envelope as JSON with --json. Never a stack trace, never a key.
 * @module
 */
import { redact } from '@mitos/protocol';
import { AgentRunError, type ErrorEnvelopeJson } from '@mitos/sdk';

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
