/** Ids the E2B surface hands out. */
import { randomBytes } from 'node:crypto';

/** Sandbox ids that satisfy E2B's `^[a-z0-9]+$`: 20 base-36 characters (~103 bits). */
export function newE2bSandboxId(): string {
  const bytes = randomBytes(20);
  return Array.from(bytes, (b) => (b % 36).toString(36)).join('');
}
