/**
 * The build context's blob store: files a copy step reads, named by the SHA-256 of their bytes,
 * so a client uploads only what the server lacks and two templates copying the same file
 * store it once. A blob is written to a temp file, verified against its name, then renamed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MitosError } from '@mitos/protocol';

const DIGEST = /^[0-9a-f]{64}$/;
/** Largest single blob accepted (a copied file). */
export const MAX_BLOB_BYTES = 2 * 1024 * 1024 * 1024;

function checkDigest(digest: string): string {
  if (!DIGEST.test(digest)) {
    throw new MitosError(
      'invalid_request',
      `invalid build context digest ${JSON.stringify(digest)}`,
      {},
      {
        remediation: 'name each blob by the lowercase hex SHA-256 of its bytes',
      },
    );
  }
  return digest;
}

export class ContextStore {
  constructor(readonly dir: string) {}

  has(digest: string): boolean {
    return existsSync(join(this.dir, checkDigest(digest)));
  }

  missing(digests: readonly string[]): string[] {
    return [...new Set(digests)].filter((d) => !this.has(d));
  }

  /** Store a blob from a stream; refuses bytes whose SHA-256 is not `digest`. */
  async put(digest: string, body: Readable): Promise<void> {
    checkDigest(digest);
    if (this.has(digest)) {
      body.resume();
      return;
    }
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = join(this.dir, `.tmp-${digest}-${process.pid}-${randomBytes(3).toString('hex')}`);
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      await pipeline(
        body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            bytes += chunk.length;
            if (bytes > MAX_BLOB_BYTES) throw new MitosError('body_too_large', `blob over ${MAX_BLOB_BYTES} bytes`);
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(tmp, { mode: 0o600 }),
      );
      const actual = hash.digest('hex');
      if (actual !== digest) {
        throw new MitosError(
          'invalid_request',
          `build context blob named ${digest} has SHA-256 ${actual}`,
          {},
          {
            remediation: 'upload the exact bytes whose SHA-256 is the name',
          },
        );
      }
      renameSync(tmp, join(this.dir, digest));
    } finally {
      rmSync(tmp, { force: true });
    }
  }

  read(digest: string): Buffer {
    try {
      return readFileSync(join(this.dir, checkDigest(digest)));
    } catch {
      throw new MitosError(
        'invalid_request',
        `build context blob ${digest} was not uploaded`,
        { digest },
        {
          remediation: 'upload it first: POST /v1/template-context/{sha256} (the SDK and CLI do this)',
        },
      );
    }
  }
}
