import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cacheDir, openCompileCache } from './compile-cache.js';

const root = mkdtempSync(join(tmpdir(), 'mitos-test-compile-cache-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('the cache lives under XDG_CACHE_HOME, else ~/.cache', () => {
  assert.equal(cacheDir({ XDG_CACHE_HOME: '/x/cache' }), '/x/cache/mitos/cli');
  // A relative XDG_CACHE_HOME is invalid by the spec: ignored.
  assert.match(cacheDir({ XDG_CACHE_HOME: 'rel' }) ?? '', /\/\.cache\/mitos\/cli$/);
});

test('what is saved is read back, for the same bundle only', () => {
  const dir = join(root, 'roundtrip', 'mitos', 'cli');
  const first = openCompileCache('key-a', dir);
  assert.equal(first.data, undefined);
  first.save(() => Buffer.from('cached'));
  assert.deepEqual(openCompileCache('key-a', dir).data, Buffer.from('cached'));
  // Another build of the bundle: another name, never this file.
  assert.equal(openCompileCache('key-b', dir).data, undefined);
  // No partial file left behind.
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
  );
});

test('a cache others could have written is not read', () => {
  const dir = join(root, 'foreign');
  openCompileCache('key', dir).save(() => Buffer.from('cached'));
  const [file] = readdirSync(dir);
  assert.ok(file);
  chmodSync(join(dir, file), 0o666);
  assert.equal(openCompileCache('key', dir).data, undefined, 'a world-writable file');
  chmodSync(join(dir, file), 0o600);
  chmodSync(dir, 0o777);
  assert.equal(openCompileCache('key', dir).data, undefined, 'a world-writable directory');
  chmodSync(dir, 0o700);
  assert.deepEqual(openCompileCache('key', dir).data, Buffer.from('cached'));
  if (process.getuid?.() === 0) {
    // Owned by another user (root can make one): refused even with a private mode.
    chownSync(join(dir, file), 65534, 65534);
    assert.equal(openCompileCache('key', dir).data, undefined, "another user's file");
  }
});

test('a directory that cannot be written means no cache, not an error', () => {
  const file = join(root, 'not-a-dir');
  writeFileSync(file, '');
  const cache = openCompileCache('key', join(file, 'cli'));
  assert.equal(cache.data, undefined);
  assert.doesNotThrow(() => cache.save(() => Buffer.from('cached')));
});

test('only the most recent caches are kept', () => {
  const dir = join(root, 'prune');
  for (let i = 0; i < 40; i++) openCompileCache(`key-${i}`, dir).save(() => Buffer.from(String(i)));
  const kept = readdirSync(dir);
  assert.ok(kept.length === 32, kept.join(', '));
  assert.ok(
    kept.some((f) => f.startsWith('key-39-')),
    'the newest is kept',
  );
});
