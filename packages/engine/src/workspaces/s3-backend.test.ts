/**
 * The S3 backend against a real S3-compatible server (s3rver) started here on 127.0.0.1,
 * with its data under a mitos-test-* directory.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestS3, type TestS3 } from '@mitos/testkit';
import { detail } from '../test-support/detail.js';
import { BlobStore } from './blob-store.js';
import { sha256 } from './manifest.js';
import { S3Backend } from './s3-backend.js';

describe('workspace objects in an S3-compatible bucket', { timeout: 60_000 }, () => {
  let s3: TestS3;
  const backends: S3Backend[] = [];
  const backend = (o: Partial<ConstructorParameters<typeof S3Backend>[0]> = {}) => {
    const b = new S3Backend({
      bucket: s3.bucket,
      endpoint: s3.endpoint,
      prefix: 'team-a',
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
      ...o,
    });
    backends.push(b);
    return b;
  };

  before(async () => {
    s3 = await startTestS3();
  });
  after(async () => {
    for (const b of backends) b.close();
    await s3.close();
  });

  test('put, has, get (verified), list and delete; equal content is one object', async () => {
    const store = new BlobStore(backend());
    const digest = await store.put(Buffer.from('hello bucket'));
    assert.equal(digest, sha256('hello bucket'));
    assert.equal(await store.put(Buffer.from('hello bucket')), digest);
    assert.equal(await store.has(digest), true);
    assert.equal((await store.get(digest)).toString(), 'hello bucket');
    const other = await store.put(Buffer.alloc(300_000, 7));
    assert.deepEqual((await store.list()).sort(), [digest, other].sort());
    // Another prefix is another namespace.
    assert.deepEqual(await new BlobStore(backend({ prefix: 'team-b/' })).list(), []);
    await store.delete(other);
    assert.deepEqual(await store.list(), [digest]);
    await assert.rejects(store.get(other), (err: { code?: string }) => err.code === 'not_found');
  });

  test('a substituted object is detected by its digest; sealed objects need the key', async () => {
    const raw = backend({ prefix: 'raw' });
    const wanted = sha256('the real bytes');
    await raw.put(wanted, Buffer.from('forged bytes'));
    await assert.rejects(new BlobStore(raw).get(wanted), detail(/does not match its digest/));

    const key = Buffer.alloc(32, 9);
    const sealed = new BlobStore(backend({ prefix: 'sealed' }), key);
    const digest = await sealed.put(Buffer.from('secret workspace file'));
    const stored = await backend({ prefix: 'sealed' }).read(digest);
    assert.equal(stored.includes(Buffer.from('secret workspace file')), false, 'ciphertext in the bucket');
    assert.equal((await sealed.get(digest)).toString(), 'secret workspace file');
  });

  test('a store failure is a clear error naming the operation, never the credentials', async () => {
    const store = new BlobStore(backend({ bucket: 'no-such-bucket', secretAccessKey: 'secret-value-123' }));
    await assert.rejects(store.put(Buffer.from('x')), (err: Error & { code?: string; detail?: string }) => {
      assert.equal(err.code, 'internal');
      assert.match(err.detail ?? '', /s3:no-such-bucket\/team-a\/: put failed \(NoSuchBucket 404\)/);
      assert.equal(JSON.stringify({ ...err, message: err.message }).includes('secret-value-123'), false);
      return true;
    });
  });
});
