/**
 * Reaching a port inside a sandbox: a signed preview URL through the server's proxy
 * (wire-v1.md 4.19) or a loopback TCP forward on the server host (4.20).
 * @module
 */
import { DEFAULT_SANDBOX_CALL_TIMEOUT_MS } from './files.js';
import { type HttpClient, invalidResponse } from './http.js';
import type { CallOptions } from './types.js';
import { assertPort } from './validate.js';

export interface Preview {
  /** Opaque: the signature is inside it. Anyone holding it can reach the port until it expires. */
  url: string;
  expiresAt: Date | undefined;
}

export interface Forward {
  /** `127.0.0.1:PORT` on the server host. */
  host: string;
  guestPort: number;
  /**
   * On a server that requires API keys: every connection to `host` must first send this token
   * and a newline (other local users of the server host cannot use the forward). Absent when
   * the forward was opened with `{ open: true }` or the server has no keys.
   */
  token?: string;
}

export interface ForwardOptions extends CallOptions {
  /** Let any local user of the server host connect without the token. */
  open?: boolean;
}

export async function previewPort(
  http: HttpClient,
  sandbox: string,
  port: number,
  opts: CallOptions = {},
): Promise<Preview> {
  assertPort(port);
  const raw = await http.request<{ url?: unknown; expires_unix?: unknown } | undefined>('POST', '/v1/preview', {
    body: { sandbox, port },
    timeoutMs: http.timeoutOr(DEFAULT_SANDBOX_CALL_TIMEOUT_MS),
    signal: opts.signal,
  });
  if (typeof raw?.url !== 'string' || raw.url === '') throw invalidResponse('the preview answer lacks a "url"');
  const expires = raw.expires_unix;
  return { url: raw.url, expiresAt: typeof expires === 'number' && expires > 0 ? new Date(expires * 1000) : undefined };
}

export async function forwardPort(
  http: HttpClient,
  sandbox: string,
  port: number,
  opts: ForwardOptions = {},
): Promise<Forward> {
  assertPort(port);
  const raw = await http.request<{ host?: unknown; guest_port?: unknown; token?: unknown } | undefined>(
    'POST',
    `/v1/sandboxes/${encodeURIComponent(sandbox)}/forward`,
    {
      body: opts.open ? { guest_port: port, open: true } : { guest_port: port },
      timeoutMs: http.timeoutOr(DEFAULT_SANDBOX_CALL_TIMEOUT_MS),
      signal: opts.signal,
    },
  );
  if (typeof raw?.host !== 'string' || raw.host === '') throw invalidResponse('the forward answer lacks a "host"');
  const forward: Forward = { host: raw.host, guestPort: typeof raw.guest_port === 'number' ? raw.guest_port : port };
  if (typeof raw.token === 'string' && raw.token !== '') forward.token = raw.token;
  return forward;
}

/** The sandbox's open forwards (tokens are not listed: only their opener holds them). */
export async function listForwards(http: HttpClient, sandbox: string, opts: CallOptions = {}): Promise<Forward[]> {
  const raw = await http.request<{ forwards?: unknown } | undefined>(
    'GET',
    `/v1/sandboxes/${encodeURIComponent(sandbox)}/forward`,
    { timeoutMs: http.timeoutOr(DEFAULT_SANDBOX_CALL_TIMEOUT_MS), signal: opts.signal },
  );
  if (!Array.isArray(raw?.forwards)) throw invalidResponse('the forward list lacks a "forwards" array');
  return raw.forwards.map((f: { host?: unknown; guest_port?: unknown }) => {
    if (typeof f?.host !== 'string') throw invalidResponse('a forward entry lacks "host"');
    return { host: f.host, guestPort: typeof f.guest_port === 'number' ? f.guest_port : 0 };
  });
}

/**
 * Close the forward at `host` (`127.0.0.1:PORT` as forward() returned it, or the port alone)
 * and cut its connections.
 * @throws NotFoundError when the sandbox has no such forward.
 */
export async function closeForward(
  http: HttpClient,
  sandbox: string,
  host: string | number,
  opts: CallOptions = {},
): Promise<void> {
  const port = typeof host === 'number' ? host : Number(host.slice(host.lastIndexOf(':') + 1));
  assertPort(port);
  await http.request('DELETE', `/v1/sandboxes/${encodeURIComponent(sandbox)}/forward/${port}`, {
    timeoutMs: http.timeoutOr(DEFAULT_SANDBOX_CALL_TIMEOUT_MS),
    signal: opts.signal,
  });
}
