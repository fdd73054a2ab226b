/**
 * The console's only door to the server: the public /v1 API, with the tab's key as a bearer
 * token. Every failure becomes an ApiError carrying our error envelope, so views can show its
 * code, cause and remediation as the server wrote them.
 */
import type { ErrorEnvelope } from '@mitos/protocol';
import { savedKey } from './session.js';

export type Envelope = ErrorEnvelope['error'];

export class ApiError extends Error {
  readonly status: number;
  readonly envelope: Envelope;

  constructor(status: number, envelope: Envelope) {
    super(envelope.message);
    this.status = status;
    this.envelope = envelope;
  }
}

/** A failure before any answer (server down, network gone), in the envelope's shape. */
export function connectionError(err: unknown): ApiError {
  return new ApiError(0, {
    code: 'connection_failed',
    message: 'the server could not be reached',
    cause: err instanceof Error ? err.message : String(err),
    remediation: 'check that `mitos serve` is running and reachable, then retry',
  });
}

export function authHeaders(key = savedKey()): Record<string, string> {
  return key ? { Authorization: `Bearer ${key}` } : {};
}

export async function request(method: string, path: string, body?: unknown, key?: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: { ...authHeaders(key), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw connectionError(err);
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function call<T>(method: string, path: string, body?: unknown, key?: string): Promise<T> {
  return (await request(method, path, body, key)).json() as Promise<T>;
}

async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  try {
    const parsed = JSON.parse(text) as Partial<ErrorEnvelope>;
    if (parsed.error && typeof parsed.error.code === 'string') return new ApiError(response.status, parsed.error);
  } catch {
    // not an envelope; described below
  }
  return new ApiError(response.status, {
    code: 'http_error',
    message: `the server answered HTTP ${response.status}`,
    cause: text.slice(0, 300),
    remediation: 'retry; if it persists, check the server logs',
  });
}

/** Lines of an NDJSON stream (exec, run_code, process output), as they arrive. */
export async function* ndjson(response: Response): AsyncGenerator<Record<string, unknown>> {
  for await (const line of lines(response)) {
    if (line.trim() !== '') yield JSON.parse(line) as Record<string, unknown>;
  }
}

export async function* lines(response: Response): AsyncGenerator<string> {
  if (response.body === null) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += value;
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      yield buffered.slice(0, newline).replace(/\r$/, '');
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
    }
  }
  if (buffered !== '') yield buffered;
}

export function base64ToBytes(data: string): Uint8Array<ArrayBuffer> {
  const raw = atob(data);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let raw = '';
  for (let i = 0; i < bytes.length; i += 0x8000) raw += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(raw);
}

export function decodeText(data: string): string {
  return new TextDecoder().decode(base64ToBytes(data));
}

/** The files API carries binary content as lowercase hex (wire-v1.md 4.10, 4.11). */
export function hexToBytes(hex: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

export function bytesToHex(bytes: Uint8Array): string {
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return hex;
}
