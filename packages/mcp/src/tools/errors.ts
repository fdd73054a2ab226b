/**
 * Failures become tool results, not protocol errors: an agent reads the code and the
 * remediation and can correct itself. The SDK's AgentRunError already carries both; anything
 * else is reported without internals.
 * @module
 */
import { ERROR_CATALOGUE } from '@mitos/protocol';
import { AgentRunError } from '@mitos/sdk';
import type { ZodError } from 'zod';
import type { ToolOutput } from './output.js';

export interface ToolErrorInfo {
  code: string;
  message: string;
  cause: string;
  remediation: string;
  context: Record<string, unknown>;
}

export function toolError(info: ToolErrorInfo): ToolOutput {
  const lines = [`error ${info.code}: ${info.message}`];
  if (info.cause) lines.push(`cause: ${info.cause}`);
  lines.push(`remediation: ${info.remediation}`);
  return { content: [{ type: 'text', text: lines.join('\n') }], structured: { error: info }, isError: true };
}

export function errorInfo(err: unknown): ToolErrorInfo {
  if (err instanceof AgentRunError) {
    return {
      code: err.code,
      message: err.summary,
      cause: err.errorCause,
      remediation: err.remediation,
      context: err.context,
    };
  }
  if (err instanceof ToolInputError) return err.info;
  return {
    code: 'internal',
    message: 'the tool failed unexpectedly',
    cause: err instanceof Error ? err.name : typeof err,
    remediation: 'retry; if it keeps failing, check the mitos server log',
    context: {},
  };
}

/** A problem with the arguments or the session, found before any call to the server. */
export class ToolInputError extends Error {
  readonly info: ToolErrorInfo;
  constructor(code: keyof typeof ERROR_CATALOGUE, cause: string, remediation: string, context = {}) {
    super(cause);
    this.info = { code, message: ERROR_CATALOGUE[code].message, cause, remediation, context };
  }
}

export function invalidArguments(tool: string, error: ZodError): ToolInputError {
  const issue = error.issues[0];
  const field = issue?.path.join('.') || '(arguments)';
  return new ToolInputError(
    'invalid_request',
    `${tool}: ${field}: ${issue?.message ?? 'invalid'}`,
    `fix "${field}" as the tool's input schema describes and call ${tool} again`,
    { field },
  );
}
