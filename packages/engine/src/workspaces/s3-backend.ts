/**
 * Objects in an S3-compatible bucket (AWS S3, MinIO, R2, Ceph...), keyed
 * `<prefix>objects/<digest>`, through the official AWS SDK v3 client with path-style
 * addressing so any endpoint works. Credentials are passed in (a cluster reads them from a
 * Secret); they are never logged or put into an error.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { MitosError } from '@mitos/protocol';
import { missingObject, type ObjectBackend } from './blob-store.js';
import { DIGEST_PATTERN } from './manifest.js';

export interface S3BackendOptions {
  bucket: string;
  /** e.g. http://127.0.0.1:9000; absent: AWS's endpoint for `region`. */
  endpoint?: string;
  /** Default us-east-1. */
  region?: string;
  /** Key prefix inside the bucket (e.g. `team-a/`). */
  prefix?: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export class S3Backend implements ObjectBackend {
  readonly description: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(o: S3BackendOptions) {
    if (o.bucket === '') throw new MitosError('invalid_request', 'store.s3.bucket is required');
    this.bucket = o.bucket;
    this.prefix =
      o.prefix === undefined || o.prefix === '' || o.prefix.endsWith('/') ? (o.prefix ?? '') : `${o.prefix}/`;
    this.description = `s3:${o.bucket}/${this.prefix}`;
    this.client = new S3Client({
      region: o.region ?? 'us-east-1',
      ...(o.endpoint && { endpoint: o.endpoint }),
      forcePathStyle: true,
      credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey },
      maxAttempts: 3,
      // Checksums only where S3 requires them: several S3-compatible servers reject the
      // SDK's default trailing-checksum uploads. Integrity is ours anyway (digest per object).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  private key(digest: string): string {
    return `${this.prefix}objects/${digest}`;
  }

  async has(digest: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(digest) }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw this.failure('head', err);
    }
  }

  async put(digest: string, bytes: Buffer): Promise<void> {
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(digest), Body: bytes }));
    } catch (err) {
      throw this.failure('put', err);
    }
  }

  async read(digest: string): Promise<Buffer> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(digest) }));
      if (!out.Body) throw missingObject(digest, this.description);
      return Buffer.from(await out.Body.transformToByteArray());
    } catch (err) {
      if (err instanceof MitosError) throw err;
      if (isNotFound(err)) throw missingObject(digest, this.description);
      throw this.failure('get', err);
    }
  }

  async delete(digest: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(digest) }));
    } catch (err) {
      throw this.failure('delete', err);
    }
  }

  async list(): Promise<string[]> {
    const out: string[] = [];
    const prefix = `${this.prefix}objects/`;
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
        );
      } catch (err) {
        throw this.failure('list', err);
      }
      for (const o of page.Contents ?? []) {
        const digest = o.Key?.slice(prefix.length) ?? '';
        if (DIGEST_PATTERN.test(digest)) out.push(digest);
      }
      token = page.NextContinuationToken;
    } while (token);
    return out;
  }

  close(): void {
    this.client.destroy();
  }

  /** The S3 error's name and status only: its message may echo request details. */
  private failure(op: string, err: unknown): MitosError {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    return new MitosError(
      'internal',
      `workspace store ${this.description}: ${op} failed (${e.name ?? 'error'}${e.$metadata?.httpStatusCode ? ` ${e.$metadata.httpStatusCode}` : ''})`,
      {},
      { remediation: 'check the bucket, endpoint and credentials of the workspace store' },
    );
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
}
