/**
 * The frames of a run_code stream (wire-v1.md 4.9). Every line has a `kind`; `exit` is the
 * terminal one. Output is always base64: the seed SDK base64-decodes it and would mangle plain
 * text that happens to look like base64.
 */
import type { CodeError, CodeResult } from '@mitos/engine';

export type CodeFrame =
  | { kind: 'stdout'; stdout: string }
  | { kind: 'stderr'; stderr: string }
  | { kind: 'result'; result: { text?: string; data?: Record<string, string> } }
  | { kind: 'error'; error: { name: string; value: string; traceback?: string[] } }
  | { kind: 'exit'; exit_code: number };

/** Exit code and error name of a cell whose language has no kernel here (the seed's guest uses 127). */
export const KERNEL_UNAVAILABLE_EXIT = 127;

export function outputFrame(stream: 'stdout' | 'stderr', chunk: Buffer): CodeFrame {
  const data = chunk.toString('base64');
  return stream === 'stdout' ? { kind: 'stdout', stdout: data } : { kind: 'stderr', stderr: data };
}

/** `text` only for the cell's own value; empty keys are left out. */
export function resultFrame(result: CodeResult): CodeFrame {
  const body: { text?: string; data?: Record<string, string> } = {};
  if (result.isMainResult && result.text) body.text = result.text;
  if (Object.keys(result.data).length > 0) body.data = result.data;
  return { kind: 'result', result: body };
}

export function errorFrame(error: CodeError): CodeFrame {
  const body: { name: string; value: string; traceback?: string[] } = { name: error.name, value: error.value };
  if (error.traceback.length > 0) body.traceback = error.traceback;
  return { kind: 'error', error: body };
}

export function exitFrame(exitCode: number): CodeFrame {
  return { kind: 'exit', exit_code: exitCode };
}
