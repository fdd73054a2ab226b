import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { MitosError } from '@mitos/protocol';
import { mountsUnder } from '../host/mountinfo.js';
import { chooseStorage, openStorage } from './index.js';
import { probeBtrfs } from './probe.js';

describe('storage choice', () => {
  const dirs: string[] = [];
  const fresh = () => {
    const d = mkdtempSync('/tmp/mitos-test-choose-');
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) {
      assert.deepEqual(mountsUnder(d), []);
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('MITOS_STORAGE wins over prefer, prefer over what the state dir holds', () => {
    const stateDir = fresh();
    assert.deepEqual(chooseStorage({ stateDir, prefer: 'btrfs', env: { MITOS_STORAGE: 'overlay' } }), {
      kind: 'overlay',
      explicit: true,
    });
    assert.deepEqual(chooseStorage({ stateDir, prefer: 'overlay', env: {} }), { kind: 'overlay', explicit: true });
    assert.throws(
      () => chooseStorage({ stateDir, env: { MITOS_STORAGE: 'zfs' } }),
      (e: MitosError) => e.code === 'invalid_request',
    );
  });

  test('a state dir keeps the backend it was created with', () => {
    const withOverlay = fresh();
    mkdirSync(join(withOverlay, 'storage/sandboxes'), { recursive: true });
    assert.equal(chooseStorage({ stateDir: withOverlay, env: {} }).kind, 'overlay');
    const withBtrfs = fresh();
    mkdirSync(join(withBtrfs, 'storage'), { recursive: true });
    writeFileSync(join(withBtrfs, 'storage/btrfs.img'), '');
    assert.equal(chooseStorage({ stateDir: withBtrfs, env: {} }).kind, 'btrfs');
  });

  test('a fresh state dir gets btrfs exactly when the host supports it', () => {
    assert.equal(chooseStorage({ stateDir: fresh(), env: {} }).kind, probeBtrfs().ok ? 'btrfs' : 'overlay');
  });

  test('openStorage opens the chosen backend', async () => {
    const overlay = await openStorage({ stateDir: fresh(), env: { MITOS_STORAGE: 'overlay' } });
    assert.equal(overlay.kind, 'overlay');
    await overlay.destroy();
    if (probeBtrfs().ok) {
      const stateDir = fresh();
      const btrfs = await openStorage({ stateDir, env: {}, btrfsSizeBytes: 512 * 1024 ** 2 });
      assert.equal(btrfs.kind, 'btrfs');
      assert.equal(mountsUnder(stateDir).length, 1);
      await btrfs.destroy();
    }
  });
});
