/**
 * The preview signing secret: MITOS_PREVIEW_SECRET when the operator sets one (it must be at
 * least 16 bytes, as in the seed), otherwise one generated on first start and kept in the
 * state database, so preview URLs keep working across restarts.
 */
import { randomBytes } from 'node:crypto';
import { MitosError } from '@mitos/protocol';
import type { ServerSettings } from '../settings.js';

export const MIN_PREVIEW_SECRET_BYTES = 16;
const SETTING = 'preview_secret';

export function resolvePreviewSecret(configured: string | undefined, settings: ServerSettings): Buffer {
  if (configured !== undefined && configured !== '') {
    const secret = Buffer.from(configured, 'utf8');
    if (secret.length < MIN_PREVIEW_SECRET_BYTES) {
      // Never echo the value: it is a secret even when it is too short.
      throw new MitosError(
        'invalid_request',
        `MITOS_PREVIEW_SECRET must be at least ${MIN_PREVIEW_SECRET_BYTES} bytes`,
      );
    }
    return secret;
  }
  return Buffer.from(
    settings.getOrCreate(SETTING, () => randomBytes(32).toString('base64url')),
    'utf8',
  );
}
