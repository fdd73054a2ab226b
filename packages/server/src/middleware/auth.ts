/**
 * Bearer-key authentication. With no keys configured the server is tokenless (as the seed
 * standalone server is): any Authorization header is accepted and ignored. With keys, every
 * route, health included, needs `Authorization: Bearer <key>`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { MitosError } from '@mitos/protocol';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env.js';

export function bearerAuth(apiKeys: readonly string[]): MiddlewareHandler<AppEnv> {
  // Digests have a fixed length, so timingSafeEqual never throws on a length mismatch and the
  // comparison time does not depend on how long the presented or configured key is.
  const digests = apiKeys.map(digest);
  return async (c, next) => {
    if (digests.length > 0) {
      const presented = bearerToken(c.req.header('Authorization'));
      if (presented === undefined) throw new MitosError('unauthorized', 'missing bearer token');
      if (!matchesAny(digest(presented), digests)) throw new MitosError('unauthorized', 'invalid bearer token');
    }
    await next();
  };
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
