/**
 * The deterministic default pool for an image (crd-v1.md 9.1): `mitos-default-<slug>`, where
 * the slug is the image lowercased, `/` and `:` turned into `-`, every other run of characters
 * outside `[a-z0-9.-]` turned into one `-`, cut to 40 characters, then stripped of leading and
 * trailing `-` and `.`.
 * @module
 */

export const DEFAULT_POOL_PREFIX = 'mitos-default-';

/**
 * @example defaultPoolName('python') === 'mitos-default-python'
 * @example defaultPoolName('python:3.12-slim') === 'mitos-default-python-3.12-slim'
 */
export function defaultPoolName(image: string): string {
  const slug = image
    .toLowerCase()
    .replace(/[/:]/g, '-')
    .replace(/[^a-z0-9.-]+/g, '-')
    .slice(0, 40)
    .replace(/^[-.]+|[-.]+$/g, '');
  return DEFAULT_POOL_PREFIX + slug;
}
