/**
 * Per-sandbox tokens as a cluster node issues them: an HMAC of the sandbox id under a secret,
 * verified in constant time. Shared by the suites that attack token mode.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface SandboxTokens {
  tokenFor(id: string): string;
  verifier: { verify(id: string, token: string): boolean };
}

export function sandboxTokens(secret: Buffer = randomBytes(32)): SandboxTokens {
  const tokenFor = (id: string) => `sbt-${createHmac('sha256', secret).update(id).digest('hex')}`;
  return {
    tokenFor,
    verifier: {
      verify(id, token) {
        const want = Buffer.from(tokenFor(id));
        const got = Buffer.from(token);
        return want.length === got.length && timingSafeEqual(want, got);
      },
    },
  };
}
