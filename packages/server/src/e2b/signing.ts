/**
 * E2B's signed file URLs: `signature = "v1_" + base64(sha256("<path>:<read|write>:<user>:<envd
 * token>[:<expiration>]"))` without padding, computed by the SDK from the sandbox's envd access
 * token. A signed URL carries no sandbox header (the SDK builds it as `<sandbox url origin>/files`),
 * so the sandbox is the one whose token makes the signature match.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { MitosError } from '@mitos/protocol';
import type { E2bContext } from './context.js';

export function fileSignature(
  path: string,
  operation: 'read' | 'write',
  user: string,
  token: string,
  expiration?: number,
): string {
  const raw =
    expiration === undefined
      ? `${path}:${operation}:${user}:${token}`
      : `${path}:${operation}:${user}:${token}:${expiration}`;
  return `v1_${createHash('sha256').update(raw).digest('base64').replace(/=+$/, '')}`;
}

/** The sandbox a signed request opens (checked against `candidates`), or a refusal. */
export function sandboxOfSignedRequest(
  ctx: E2bContext,
  url: URL,
  method: string,
  candidates: readonly string[],
): string {
  const signature = url.searchParams.get('signature') ?? '';
  const expirationRaw = url.searchParams.get('signature_expiration');
  const expiration = expirationRaw === null || expirationRaw === '' ? undefined : Number(expirationRaw);
  if (expiration !== undefined && (!Number.isInteger(expiration) || expiration < Math.floor(Date.now() / 1000))) {
    throw new MitosError('unauthorized', 'the signed URL has expired');
  }
  const operation = method === 'GET' ? 'read' : method === 'POST' ? 'write' : undefined;
  if (operation === undefined) throw new MitosError('method_not_allowed', 'signed URLs are for GET and POST /files');
  const path = url.searchParams.get('path') ?? '';
  const user = url.searchParams.get('username') ?? '';
  const presented = Buffer.from(signature);
  for (const id of candidates) {
    const expected = Buffer.from(fileSignature(path, operation, user, ctx.credentials.envdToken(id), expiration));
    if (expected.length === presented.length && timingSafeEqual(expected, presented)) return id;
  }
  throw new MitosError('unauthorized', 'invalid file URL signature');
}
