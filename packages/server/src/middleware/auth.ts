/**
 * Bearer authentication, in two layers.
 *
 * API keys: with no keys configured the server is tokenless (as the seed standalone server
 * is): any Authorization header is accepted and ignored. With keys, every route, health
 * included, needs `Authorization: Bearer <key>`.
 *
 * Per-sandbox tokens (cluster mode, crd-v1.md 11.2): when a `sandboxTokens` verifier is given,
 * a request that names a sandbox (body `sandbox`, query `?sandbox=`, the `:id` of
 * `/v1/sandboxes/:id/...`, or the X-Sandbox-Id header of a Connect call) is let through only
 * with that sandbox's own token; API keys do not open sandboxes, a token for one sandbox
 * never opens another, and anything that cannot be verified is refused. Requests that name
 * no sandbox fall back to the API-key rule, so a node daemon pairs the verifier with a key to
 * close its other routes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { BEARER_SUBPROTOCOL_PREFIX, MAX_BODY_BYTES, MitosError } from '@mitos/protocol';
import type { Context, MiddlewareHandler } from 'hono';
import { CONNECT_SERVICE_PREFIX } from '../connect/codes.js';
import type { AppEnv } from '../env.js';
import { requestHeader } from '../node-headers.js';
import { readBodyWithin } from './body-limit.js';

/** Decides whether `token` opens `sandboxId`. Implementations must compare in constant time. */
export interface SandboxTokenVerifier {
  verify(sandboxId: string, token: string): boolean;
}

export function bearerAuth(
  apiKeys: readonly string[],
  sandboxTokens?: SandboxTokenVerifier,
): MiddlewareHandler<AppEnv> {
  // Digests have a fixed length, so timingSafeEqual never throws on a length mismatch and the
  // comparison time does not depend on how long the presented or configured key is.
  const digests = apiKeys.map(digest);
  return async (c, next) => {
    if (sandboxTokens) {
      const named = await sandboxesNamedBy(c);
      if (named.size > 0) {
        checkSandboxToken(sandboxTokens, named, presentedToken(c));
        return next();
      }
    }
    if (digests.length > 0) {
      const presented = presentedToken(c);
      if (presented === undefined) throw new MitosError('unauthorized', 'missing bearer token');
      if (!matchesAny(digest(presented), digests)) throw new MitosError('unauthorized', 'invalid bearer token');
    }
    await next();
  };
}

function checkSandboxToken(verifier: SandboxTokenVerifier, named: Set<string>, presented: string | undefined): void {
  if (presented === undefined) throw new MitosError('unauthorized', 'missing bearer token');
  for (const id of named) {
    let ok = false;
    try {
      ok = verifier.verify(id, presented) === true;
    } catch {
      // A verifier that fails cannot vouch for anything.
      ok = false;
    }
    if (!ok) throw new MitosError('unauthorized', `bearer token does not open sandbox ${JSON.stringify(id)}`);
  }
}

const SANDBOX_PATH = /^\/v1\/sandboxes\/([^/]+)(?:\/|$)/;
/** Stands for a `sandbox` field that is present but not a string: never verifiable. */
const UNREADABLE_ID = '\u0000unreadable';

/**
 * Every sandbox id the request names. A body is peeked through a clone (bounded like the
 * route's own read) so the route still reads the original.
 */
async function sandboxesNamedBy(c: Context<AppEnv>): Promise<Set<string>> {
  const ids = new Set<string>();
  const fromPath = SANDBOX_PATH.exec(c.req.path)?.[1];
  if (fromPath !== undefined) ids.add(safeDecode(fromPath));
  for (const q of c.req.queries('sandbox') ?? []) ids.add(q);
  if (c.req.path.startsWith(CONNECT_SERVICE_PREFIX)) {
    // Connect bodies are framed messages, often streamed: the sandbox is named in a header only.
    const header = requestHeader(c, 'X-Sandbox-Id');
    if (header !== undefined) ids.add(header);
    return ids;
  }
  if (c.req.raw.body !== null) {
    const body = await peekJson(c.req.raw);
    if (body !== null && typeof body === 'object' && !Array.isArray(body) && 'sandbox' in body) {
      const value = (body as { sandbox: unknown }).sandbox;
      ids.add(typeof value === 'string' ? value : UNREADABLE_ID);
    }
  }
  return ids;
}

async function peekJson(request: Request): Promise<unknown> {
  const bytes = await readBodyWithin(request, MAX_BODY_BYTES, { peek: true });
  try {
    // Decoded as the route's readJson decodes it: TextDecoder drops a leading BOM and
    // Buffer#toString keeps it, so a BOM once hid the sandbox from this peek while the route
    // still ran on it, and in token mode an API key opened any sandbox.
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    // Not JSON: it names no sandbox here, and the route reports the syntax error itself.
    return undefined;
  }
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return UNREADABLE_ID;
  }
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

function matchesAny(candidate: Buffer, digests: readonly Buffer[]): boolean {
  // Every configured key is compared, so timing does not reveal which one (if any) matched.
  let matched = false;
  for (const d of digests) matched = timingSafeEqual(candidate, d) || matched;
  return matched;
}

/**
 * The Authorization header's bearer token; on a WebSocket upgrade without one, the key a
 * browser offered as a `bearer.mitos.run.<base64url>` subprotocol (browsers cannot set headers
 * on a WebSocket). Only upgrades look there, so no other request can use the header.
 */
function presentedToken(c: Context<AppEnv>): string | undefined {
  const header = bearerToken(requestHeader(c, 'Authorization'));
  if (header !== undefined || requestHeader(c, 'Upgrade')?.toLowerCase() !== 'websocket') return header;
  const offered = (requestHeader(c, 'Sec-WebSocket-Protocol') ?? '').split(',').map((p) => p.trim());
  const carried = offered.find((p) => p.startsWith(BEARER_SUBPROTOCOL_PREFIX));
  if (carried === undefined) return undefined;
  const encoded = carried.slice(BEARER_SUBPROTOCOL_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(encoded)) return undefined;
  const key = Buffer.from(encoded, 'base64url').toString('utf8');
  return key.length > 0 ? key : undefined;
}

function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}

/**
 * Blank entries are dropped; a list that was given but holds only blanks is a configuration
 * mistake, and failing closed beats silently serving without authentication.
 */
export function normalizeApiKeys(apiKeys: readonly string[] | undefined): string[] {
  const keys = (apiKeys ?? []).map((k) => k.trim()).filter((k) => k.length > 0);
  if ((apiKeys?.length ?? 0) > 0 && keys.length === 0) {
    throw new MitosError('invalid_request', 'apiKeys was given but every key is empty');
  }
  return keys;
}
