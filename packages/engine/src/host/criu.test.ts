import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CRIU_PIN, criuTreePath, criuVersion, findCriu } from './criu.js';
import { defaultCacheDir } from './state-dir.js';

const repoRoot = new URL('../../../../', import.meta.url);

describe('criu', () => {
  test('setup installs the release this module pins', () => {
    const setup = readFileSync(new URL('scripts/setup.mjs', repoRoot), 'utf8');
    assert.match(setup, new RegExp(`CRIU_SUITE = '${CRIU_PIN.suite}'`));
    assert.match(setup, new RegExp(`CRIU_VERSION = '${CRIU_PIN.version.replace(/\./g, '\\.')}'`));
  });

  test('a tree that is missing, of another release, or open to other users is refused', () => {
    const cache = mkdtempSync('/tmp/mitos-test-criu-');
    try {
      assert.match((findCriu(cache) as { missing: string }).missing, /no CRIU/);
      const tree = criuTreePath(cache);
      mkdirSync(tree, { recursive: true, mode: 0o755 });
      writeFileSync(join(tree, 'ready'), '3.17.1-2\n');
      assert.match((findCriu(cache) as { missing: string }).missing, /holds CRIU 3\.17\.1-2/);
      writeFileSync(join(tree, 'ready'), `${CRIU_PIN.version}\n`);
      assert.match((findCriu(cache) as { missing: string }).missing, /mode 0700/);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  test('this host has the pinned CRIU from setup, and it runs', async () => {
    const found = findCriu(defaultCacheDir());
    assert.ok('tool' in found, 'missing' in found ? found.missing : '');
    assert.equal(await criuVersion(found.tool), CRIU_PIN.version.replace(/-\d+$/, ''));
  });
});
