/**
 * The two line shapes of an exec-style NDJSON stream (wire-v1.md 4.8), shared by
 * /v1/exec/stream and /v1/processes/stream. Chunk lines carry no `kind`; the terminal line is
 * the one with `exit_code` and no `stream`, and there is exactly one.
 */
import type { ExecResult } from '@mitos/engine';
import { failureDetail } from '../errors.js';

export interface ChunkLine {
  stream: 'stdout' | 'stderr';
  data: string;
}

export interface TerminalLine {
  exit_code: number;
  exec_time_ms?: number;
  error: string;
}

export function chunkLine(stream: 'stdout' | 'stderr', data: Buffer): ChunkLine {
  return { stream, data: data.toString('base64') };
}

export function exitLine(result: ExecResult): TerminalLine {
  return { exit_code: result.exitCode, exec_time_ms: result.durationMs, error: '' };
}

/** The terminal line for a failure after the 200: exit code 1 and a non-empty error. */
export function failureLine(err: unknown): TerminalLine {
  return { exit_code: 1, error: `exec stream failed: ${failureDetail(err)}` };
}
