/**
 * Preview tokens, in the seed's format (wire-v1.md 4.19) so either side can verify the
 * other's: base64url(JSON {s, p, e}) "." base64url(HMAC-SHA256(secret, "mitos-preview-v1\0" + P)),
 * both without padding. A token names one sandbox port until its expiry (unix seconds).
 * Ours also carry `n`, a nonce of the sandbox instance (see instanceNonce): a sandbox id can be
 * reused after a delete, and a URL minted for the old sandbox must not open the new one.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ID_PATTERN, MitosError } from '@mitos/protocol';

export interface PreviewClaims {
  sandbox: string;
  port: number;
  expiresUnix: number;
  /** instanceNonce of the sandbox the token was minted for; absent in the seed's tokens. */
  instance?: string;
}

/**
 * Tells two sandboxes that had the same id apart: derived from the id and the creation time
 * (millisecond resolution; a delete and a re-create never share one).
 */
export function instanceNonce(sandbox: { id: string; createdAt: Date }): string {
  return createHash('sha256').update(`${sandbox.id}\0${sandbox.createdAt.getTime()}`).digest('base64url').slice(0, 16);
}

const DOMAIN_SEPARATOR = 'mitos-preview-v1\0';
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export class PreviewSigner {
  readonly #secret: Buffer;

  constructor(secret: Buffer) {
    this.#secret = secret;
  }

  sign(claims: PreviewClaims): string {
    const fields: Record<string, unknown> = { s: claims.sandbox, p: claims.port, e: claims.expiresUnix };
    if (claims.instance !== undefined) fields.n = claims.instance;
    const payload = Buffer.from(JSON.stringify(fields), 'utf8').toString('base64url');
    return `${payload}.${this.#mac(payload).toString('base64url')}`;
  }

  /**
   * The claims of a genuine, unexpired token, else 403 forbidden. With `sandbox`, the token
   * must also be for that sandbox (host-form URLs name it in the host; ids compare without case
   * because browsers lowercase host names).
   */
  verify(token: string, nowUnix: number, sandbox?: string): PreviewClaims {
    const [payload, signature, extra] = token.split('.');
    if (extra !== undefined || !payload || !signature || !BASE64URL.test(payload) || !BASE64URL.test(signature)) {
      throw forbidden('preview token is malformed');
    }
    const expected = this.#mac(payload);
    const presented = Buffer.from(signature, 'base64url');
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
      throw forbidden('preview token signature is invalid');
    }
    const claims = parseClaims(payload);
    if (nowUnix >= claims.expiresUnix) throw forbidden('preview token has expired; request a new preview URL');
    if (sandbox !== undefined && sandbox.toLowerCase() !== claims.sandbox.toLowerCase()) {
      throw forbidden('preview token is for another sandbox');
    }
    return claims;
  }

  #mac(payload: string): Buffer {
    return createHmac('sha256', this.#secret).update(DOMAIN_SEPARATOR).update(payload).digest();
  }
}

function parseClaims(payload: string): PreviewClaims {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw forbidden('preview token is malformed');
  }
  const { s, p, e, n } = (raw ?? {}) as { s?: unknown; p?: unknown; e?: unknown; n?: unknown };
  const valid =
    typeof s === 'string' &&
    ID_PATTERN.test(s) &&
    Number.isInteger(p) &&
    (p as number) >= 1 &&
    (p as number) <= 65_535 &&
    Number.isInteger(e) &&
    (n === undefined || typeof n === 'string');
  // Signed but unusable can only mean a signer bug or a leaked secret; either way, refuse.
  if (!valid) throw forbidden('preview token is malformed');
  const claims: PreviewClaims = { sandbox: s, port: p as number, expiresUnix: e as number };
  if (typeof n === 'string') claims.instance = n;
  return claims;
}

function forbidden(detail: string): MitosError {
  return new MitosError('forbidden', detail, { op: 'preview' });
}
