import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ServerSettings } from '../settings.js';
import { resolvePreviewSecret } from './secret.js';

describe('preview secret', () => {
  it('uses the configured secret when it has at least 16 bytes', () => {
    const settings = new ServerSettings(new Database(':memory:'));
    assert.equal(resolvePreviewSecret('sixteen-bytes-ok', settings).toString(), 'sixteen-bytes-ok');
    assert.equal(settings.get('preview_secret'), undefined);
  });

  it('negative: refuses a configured secret under 16 bytes without echoing it', () => {
    const settings = new ServerSettings(new Database(':memory:'));
    assert.throws(
      () => resolvePreviewSecret('short-secret', settings),
      (err: Error & { code?: string; detail?: string }) =>
        err.code === 'invalid_request' && !String(err.detail).includes('short-secret'),
    );
  });

  it('generates one secret per database and keeps it across restarts', () => {
    const db = new Database(':memory:');
    const first = resolvePreviewSecret(undefined, new ServerSettings(db));
    const second = resolvePreviewSecret('', new ServerSettings(db));
    assert.ok(first.length >= 32);
    assert.deepEqual(second, first);
    assert.notDeepEqual(resolvePreviewSecret(undefined, new ServerSettings(new Database(':memory:'))), first);
  });
});
