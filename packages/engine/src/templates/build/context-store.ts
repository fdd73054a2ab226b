/**
 * The build context's blob store: files a copy step reads, named by the SHA-256 of their bytes,
 * so a client uploads only what the server lacks and two templates copying the same file
 * store it once. A blob is written to a temp file, verified against its name, then renamed.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  appendFileSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
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

/** Where a blob sent in parts stands: bytes the server holds, and whether it is stored. */
export interface PartReceipt {
  received: number;
  complete: boolean;
}

export class ContextStore {
  /** One part at a time per blob, so two senders cannot interleave appends. */
  readonly #parts = new Map<string, Promise<unknown>>();

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

  /**
   * One part of a blob too large for one request body: appended at `offset` (which must be the
   * bytes already held, so a resumed upload continues where it stopped); the part that reaches
   * `total` verifies the whole against its name and stores it.
   */
  putPart(digest: string, offset: number, total: number, part: Uint8Array): Promise<PartReceipt> {
    checkDigest(digest);
    const previous = this.#parts.get(digest) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.appendPart(digest, offset, total, part));
    this.#parts.set(digest, next);
    return next.finally(() => {
      if (this.#parts.get(digest) === next) this.#parts.delete(digest);
    });
  }

  private async appendPart(digest: string, offset: number, total: number, part: Uint8Array): Promise<PartReceipt> {
    if (this.has(digest)) return { received: total, complete: true };
    if (!Number.isSafeInteger(total) || total < 1 || total > MAX_BLOB_BYTES) {
      throw new MitosError('invalid_request', `blob total ${total} is not between 1 and ${MAX_BLOB_BYTES} bytes`);
    }
    const partial = join(this.dir, `.part-${digest}`);
    const held = existsSync(partial) ? statSync(partial).size : 0;
    if (offset !== held) {
      throw new MitosError(
        'conflict',
        `blob ${digest}: a part at offset ${offset} does not follow the ${held} bytes held`,
        { digest, received: held },
        { remediation: 'send the next part from context.received' },
      );
    }
    if (offset + part.length > total) {
      throw new MitosError('invalid_request', `blob ${digest}: part ends past its total of ${total} bytes`);
    }
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    appendFileSync(partial, part, { mode: 0o600 });
    const received = offset + part.length;
    if (received < total) return { received, complete: false };
    try {
      await this.put(digest, createReadStream(partial));
    } finally {
      rmSync(partial, { force: true });
    }
    return { received, complete: true };
  }

  /** Remove parts of uploads that never finished (prune calls this; no build reads them). */
  dropPartials(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith('.part-') && !this.#parts.has(name.slice(6))) rmSync(join(this.dir, name), { force: true });
    }
  }

  /** A blob's bytes as a stream (a copy step writes them into the build sandbox as they are read). */
  stream(digest: string): NodeJS.ReadableStream & AsyncIterable<Buffer> {
    const path = join(this.dir, checkDigest(digest));
    if (!existsSync(path)) throw notUploaded(digest);
    return createReadStream(path);
  }
}

function notUploaded(digest: string): MitosError {
  return new MitosError(
    'invalid_request',
    `build context blob ${digest} was not uploaded`,
    { digest },
    { remediation: 'upload it first: POST /v1/template-context/{sha256} (the SDK and CLI do this)' },
  );
}
