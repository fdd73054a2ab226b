/**
 * The lines of `POST /v1/run_code/stream` (wire-v1.md 4.9), each tagged by `kind`. Parsing is
 * as tolerant as the seed SDK's: missing inner fields default, unknown kinds are skipped.
 * @module
 */
import type { JsonObject } from '../ndjson.js';
import { decodeBase64 } from '../ndjson.js';
import { type ExecutionError, Result } from './execution.js';

export type CodeFrame =
  | { kind: 'stdout' | 'stderr'; data: Uint8Array }
  | { kind: 'result'; result: Result }
  | { kind: 'error'; error: ExecutionError }
  | { kind: 'exit'; exitCode: number };

/** One frame, or undefined for a kind this client does not know. */
export function parseCodeLine(line: JsonObject): CodeFrame | undefined {
  switch (line.kind) {
    case 'stdout':
    case 'stderr':
      return { kind: line.kind, data: outputBytes(line[line.kind]) };
    case 'result':
      return { kind: 'result', result: toResult(line.result) };
    case 'error':
      return { kind: 'error', error: toError(line.error) };
    case 'exit':
      return { kind: 'exit', exitCode: typeof line.exit_code === 'number' ? line.exit_code : 0 };
    default:
      return undefined;
  }
}

/** Output is base64; like the seed SDK, a value that is not base64 is taken as plain text. */
function outputBytes(value: unknown): Uint8Array {
  if (typeof value !== 'string' || value === '') return new Uint8Array(0);
  return decodeBase64(value) ?? new Uint8Array(Buffer.from(value, 'utf8'));
}

function toResult(value: unknown): Result {
  const r = isObject(value) ? value : {};
  const data: Record<string, string> = {};
  if (isObject(r.data)) {
    for (const [mime, payload] of Object.entries(r.data)) {
      // A server may send application/json as a JSON value rather than its text.
      data[mime] = typeof payload === 'string' ? payload : JSON.stringify(payload);
    }
  }
  const text = typeof r.text === 'string' ? r.text : '';
  // The seed marks the main result by a non-empty `text`; is_main_result is honoured if sent.
  const isMainResult = typeof r.is_main_result === 'boolean' ? r.is_main_result : text !== '';
  return new Result({ text: text || undefined, data, isMainResult });
}

function toError(value: unknown): ExecutionError {
  const e = isObject(value) ? value : {};
  const tb = e.traceback;
  return {
    name: typeof e.name === 'string' ? e.name : '',
    value: typeof e.value === 'string' ? e.value : '',
    traceback: Array.isArray(tb) ? tb.map(String) : typeof tb === 'string' ? tb.split('\n') : [],
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
