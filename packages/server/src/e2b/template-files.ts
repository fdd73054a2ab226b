/**
 * Files an E2B client uploads for a template's COPY steps. The SDK sends one tar (gzipped by
 * default) per files hash; we unpack it into the builder's content-addressed blob store and
 * keep, per tenant and hash, which path is which blob. The hash is the client's (E2B computes
 * it from paths and contents), so it is trusted only within the tenant that uploaded it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, mkdirSync, openSync, readSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { MitosError } from '@mitos/protocol';
import type { Database } from 'better-sqlite3';
import * as tar from 'tar-stream';
import type { UploadedFiles } from './template-steps.js';

/** Largest upload (one COPY step's files). */
const MAX_UPLOAD_BYTES = 2 * 1024 * 1024 * 1024;
const FILES_HASH = /^[0-9a-f]{64}$/;

const SCHEMA = `CREATE TABLE IF NOT EXISTS e2b_template_files (
  owner TEXT NOT NULL,
  hash TEXT NOT NULL,
  files TEXT NOT NULL,
  PRIMARY KEY (owner, hash)
)`;

/** The part of the builder's blob store an upload needs. */
export interface BlobStore {
  readonly dir: string;
  put(digest: string, body: Readable): Promise<void>;
}

export function checkFilesHash(hash: string): string {
  if (!FILES_HASH.test(hash))
    throw new MitosError('invalid_request', `files hash ${JSON.stringify(hash)} is not hex SHA-256`);
  return hash;
}

export class E2bTemplateFiles {
  readonly #get;
  readonly #put;

  constructor(db: Database) {
    db.exec(SCHEMA);
    this.#get = db.prepare('SELECT files FROM e2b_template_files WHERE owner = ? AND hash = ?');
    this.#put = db.prepare('INSERT OR REPLACE INTO e2b_template_files (owner, hash, files) VALUES (?, ?, ?)');
  }

  files(owner: string, hash: string): UploadedFiles | undefined {
    const row = this.#get.get(owner, hash) as { files: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.files) as UploadedFiles);
  }

  /** Unpacks one upload; nothing is recorded unless every entry was stored. */
  async receive(owner: string, hash: string, body: Readable, blobs: BlobStore): Promise<void> {
    checkFilesHash(hash);
    mkdirSync(blobs.dir, { recursive: true, mode: 0o700 });
    const spool = join(blobs.dir, `.e2b-upload-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      let bytes = 0;
      await pipeline(
        body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            bytes += chunk.length;
            if (bytes > MAX_UPLOAD_BYTES)
              throw new MitosError('body_too_large', `upload over ${MAX_UPLOAD_BYTES} bytes`);
            yield chunk;
          }
        },
        createWriteStream(spool, { mode: 0o600 }),
      );
      const files = await unpack(spool, blobs);
      this.#put.run(owner, hash, JSON.stringify(files));
    } finally {
      rmSync(spool, { force: true });
    }
  }
}

function isGzip(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

function entryPath(name: string): string {
  const norm = posix.normalize(name.replace(/^\.\/+/, '')).replace(/\/+$/, '');
  if (name.includes('\0') || posix.isAbsolute(norm) || norm === '..' || norm.startsWith('../') || norm === '.') {
    throw new MitosError('invalid_request', `the upload names ${JSON.stringify(name)}, outside the build context`);
  }
  return norm;
}

async function unpack(spool: string, blobs: BlobStore): Promise<UploadedFiles> {
  const files: UploadedFiles = {};
  const extract = tar.extract();
  const reading = (async () => {
    for await (const entry of extract) {
      const { name, type, mode } = entry.header;
      if (type === 'directory') {
        entry.resume();
        continue;
      }
      if (type !== 'file') {
        throw new MitosError(
          'not_implemented',
          `the upload holds ${JSON.stringify(name)} of type ${type}; only files and directories are copied`,
          {},
          { remediation: 'copy with resolveSymlinks: true, or leave links out of the copied tree' },
        );
      }
      const path = entryPath(name);
      const chunks: Buffer[] = [];
      const hash = createHash('sha256');
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        hash.update(chunk);
        chunks.push(chunk);
      }
      const sha256 = hash.digest('hex');
      await blobs.put(sha256, Readable.from(chunks));
      files[path] = { sha256, mode: (mode ?? 0o644) & 0o7777 };
    }
  })();
  const source = createReadStream(spool);
  const feeding = isGzip(spool) ? pipeline(source, createGunzip(), extract) : pipeline(source, extract);
  try {
    await Promise.all([feeding, reading]);
  } catch (err) {
    extract.destroy();
    if (err instanceof MitosError) throw err;
    throw new MitosError('invalid_request', `the upload is not a tar archive: ${(err as Error).message}`);
  }
  return files;
}
