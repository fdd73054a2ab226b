import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { detail } from '../test-support/detail.js';
import {
  decodeManifest,
  diffManifests,
  encodeManifest,
  isSafeRelativePath,
  type ManifestEntry,
  manifestDigest,
  normalizeManifest,
  sha256,
} from './manifest.js';

const file = (path: string, text: string, mode = 0o644): ManifestEntry => ({
  path,
  kind: 'file',
  mode,
  size: text.length,
  digest: sha256(text),
});

describe('workspace manifests', () => {
  test('the digest is of the canonical bytes: entry order does not matter, content does', () => {
    const a = normalizeManifest([file('b.txt', 'b'), { path: 'd', kind: 'dir' }, file('a.txt', 'a')]);
    const b = normalizeManifest([file('a.txt', 'a'), file('b.txt', 'b'), { path: 'd', kind: 'dir' }]);
    assert.equal(manifestDigest(a), manifestDigest(b));
    assert.match(manifestDigest(a), /^[0-9a-f]{64}$/);
    assert.notEqual(manifestDigest(a), manifestDigest(normalizeManifest([file('a.txt', 'A'), file('b.txt', 'b')])));
    assert.deepEqual(decodeManifest(encodeManifest(a)), a);
  });

  test('paths that could leave the workspace root are refused', () => {
    for (const bad of ['', '/etc/passwd', '../x', 'a/../../x', 'a//b', './a', 'a/', 'a\nb', 'a\u0000b']) {
      assert.equal(isSafeRelativePath(bad), false, JSON.stringify(bad));
      assert.throws(() => normalizeManifest([file(bad, 'x')]));
    }
    assert.equal(isSafeRelativePath('src/main.py'), true);
    assert.equal(isSafeRelativePath('..hidden/x..y'), true);
    assert.throws(() => normalizeManifest([file('a', 'x'), file('a', 'y')]), detail(/unique/));
    assert.throws(() => decodeManifest(Buffer.from('{"path":"a"}\n')), detail(/not a workspace manifest/));
  });

  test('diff: added, removed, and modified by content or mode', () => {
    const base = normalizeManifest([file('keep', 'k'), file('edit', 'old'), file('chmod', 'c'), file('gone', 'g')]);
    const next = normalizeManifest([
      file('keep', 'k'),
      file('edit', 'new'),
      file('chmod', 'c', 0o755),
      file('new', 'n'),
      { path: 'dir', kind: 'dir' },
    ]);
    assert.deepEqual(diffManifests(base, next), {
      added: ['dir', 'new'],
      removed: ['gone'],
      modified: ['chmod', 'edit'],
    });
    assert.deepEqual(diffManifests(undefined, base).added, ['chmod', 'edit', 'gone', 'keep']);
  });
});
