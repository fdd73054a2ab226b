import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CATALOGUE, MitosError, redact } from './errors.js';
import { ID_PATTERN, isValidId, newIdempotencyKey, newSandboxId } from './ids.js';

test('every catalogue code is documented in docs/errors.md with its status', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) {
    assert.match(doc, new RegExp(`\\| \`${code}\` \\| ${entry.status} \\|`), `${code} missing from docs/errors.md`);
  }
});

test('a MitosError becomes the envelope, omitting empty cause and context', () => {
  const e = new MitosError('not_found', 'sandbox "x" not found');
  assert.equal(e.status, 404);
  assert.deepEqual(e.toEnvelope(), {
    error: {
      code: 'not_found',
      message: ERROR_CATALOGUE.not_found.message,
      cause: 'sandbox "x" not found',
      remediation: ERROR_CATALOGUE.not_found.remediation,
    },
  });
  const withContext = new MitosError('file_failed', '', { sandbox: 's', path: '/p' }).toEnvelope();
  assert.equal(withContext.error.cause, undefined);
  assert.deepEqual(withContext.error.context, { sandbox: 's', path: '/p' });
  assert.ok(e instanceof MitosError);
  assert.ok(!(new Error('x') instanceof MitosError));
});

test('redact replaces every occurrence of each secret and ignores empty ones', () => {
  assert.equal(redact('key sk-1 and sk-1 again', ['sk-1', '', undefined]), 'key [REDACTED] and [REDACTED] again');
});

test('generated ids and keys have the seed formats', () => {
  assert.match(newSandboxId(), /^sandbox-[0-9a-f]{8}$/);
  assert.match(newIdempotencyKey(), /^[0-9a-f]{32}$/);
  assert.ok(ID_PATTERN.test(newSandboxId()));
  for (const bad of ['', '../x', 'a\0b', '-lead', 'x'.repeat(65), 'has space'])
    assert.equal(isValidId(bad), false, bad);
});
