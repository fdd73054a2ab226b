/** Sandbox and template ids: the TypeScript seed SDK's rule, enforced on the server too. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id);
}

/** `sandbox-` + 8 lowercase hex characters, as the seed SDKs generate. */
export function newSandboxId(): string {
  return `sandbox-${randomHex(4)}`;
}

/** 32 lowercase hex characters (a UUID without dashes), the seed's Idempotency-Key format. */
export function newIdempotencyKey(): string {
  return randomHex(16);
}

function randomHex(bytes: number): string {
  const buf = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(buf);
  return Array.from(buf, (b) => b.toString(16).padStart(2, '0')).join('');
}
