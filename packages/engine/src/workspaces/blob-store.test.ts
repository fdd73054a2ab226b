import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { detail } from '../test-support/detail.js';
import { BlobStore, parseEncryptionKey } from './blob-store.js';
import { LocalBackend } from './local-backend.js';
import { sha256 } from './manifest.js';

const dir = mkdtempSync('/tmp/mitos-test-blobs-');
after(() => rmSync(dir, { recursive: true, force: true }));

function objectFile(root: string, digest: string): string {
  return join(root, digest.slice(0, 2), digest.slice(2));
}

describe('workspace blob store', () => {
  test('content-addressed: one object per distinct content, verified on read', async () => {
    const root = join(dir, 'plain');
    const store = new BlobStore(new LocalBackend(root));
    const d1 = await store.put(Buffer.from('hello'));
    const d2 = await store.put(Buffer.from('hello'));
    assert.equal(d1, d2);
    assert.equal(d1, sha256('hello'));
    assert.deepEqual(await store.list(), [d1]);
    assert.equal((await store.get(d1)).toString(), 'hello');
    // Corruption on disk is detected, never served.
    writeFileSync(objectFile(root, d1), 'hellO');
    await assert.rejects(store.get(d1), detail(/does not match its digest/));
    await assert.rejects(store.get(sha256('absent')), (err: { code?: string }) => err.code === 'not_found');
    await assert.rejects(store.get('../../etc/passwd'), (err: { code?: string }) => err.code === 'invalid_request');
    assert.deepEqual(readdirSync(join(root, d1.slice(0, 2))), [d1.slice(2)], 'no temporary files left');
  });

  test('encryption at rest: ciphertext on disk, tampering and a wrong key detected', async () => {
    const root = join(dir, 'sealed');
    const key = parseEncryptionKey('11'.repeat(32));
    const store = new BlobStore(new LocalBackend(root), key);
    const secret = Buffer.from('the plaintext that must not be on disk');
    const digest = await store.put(secret);
    assert.equal(digest, sha256(secret), 'named by the plaintext digest, so deduplication still works');
    const onDisk = readFileSync(objectFile(root, digest));
    assert.equal(onDisk.includes(secret), false);
    assert.deepEqual(await store.get(digest), secret);
    const wrongKey = new BlobStore(new LocalBackend(root), parseEncryptionKey(Buffer.alloc(32, 2).toString('base64')));
    await assert.rejects(wrongKey.get(digest), detail(/failed authentication/));
    const tampered = Buffer.from(onDisk);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
    writeFileSync(objectFile(root, digest), tampered);
    await assert.rejects(store.get(digest), detail(/failed authentication/));
    assert.throws(() => parseEncryptionKey('too short'), detail(/32 bytes/));
  });
});
