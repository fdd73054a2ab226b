/**
 * Where workspace content lives: objects named by the sha256 of their plaintext, so a file
 * that is the same in many revisions and workspaces is one object. A backend (local
 * directory, S3-compatible bucket) only moves opaque bytes; this layer seals them when a key
 * is set and verifies every read against its name, so a corrupted, tampered or substituted
 * object is reported, never served.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { MitosError } from '@mitos/protocol';
import { DIGEST_PATTERN, sha256 } from './manifest.js';

export interface ObjectBackend {
  /** What backs it, for logs and errors (`local:<dir>`, `s3:<bucket>/<prefix>`). */
  readonly description: string;
  has(digest: string): Promise<boolean>;
  /** Stores bytes under `digest`; a no-op when present. */
  put(digest: string, bytes: Buffer): Promise<void>;
  /** The stored bytes, unverified; not_found when absent. */
  read(digest: string): Promise<Buffer>;
  delete(digest: string): Promise<void>;
  /** Every stored digest. */
  list(): Promise<string[]>;
}

export function requireDigest(digest: string): string {
  if (!DIGEST_PATTERN.test(digest)) {
    throw new MitosError('invalid_request', `${JSON.stringify(digest)} is not a sha256 digest`);
  }
  return digest;
}

export function missingObject(digest: string, where: string): MitosError {
  return new MitosError('not_found', `workspace object ${digest} is missing from ${where}`, { digest });
}

const MAGIC = Buffer.from('MWE1');
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** A 32-byte key from 64 hex characters or base64; anything else is refused. */
export function parseEncryptionKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) {
    throw new MitosError(
      'invalid_request',
      'the workspace encryption key must be 32 bytes (64 hex characters or base64)',
      {},
      { remediation: 'generate one with `openssl rand -hex 32`' },
    );
  }
  return key;
}

export class BlobStore {
  readonly description: string;

  /** `key`: 32 bytes for AES-256-GCM at rest (a fresh nonce per object); absent: plaintext. */
  constructor(
    readonly backend: ObjectBackend,
    private readonly key?: Buffer,
  ) {
    if (key !== undefined && key.length !== 32) throw new MitosError('internal', 'encryption key must be 32 bytes');
    this.description = key === undefined ? backend.description : `${backend.description} (encrypted)`;
  }

  /** Stores `data` and returns its digest. */
  async put(data: Buffer): Promise<string> {
    const digest = sha256(data);
    if (await this.backend.has(digest)) return digest;
    await this.backend.put(digest, this.key === undefined ? data : seal(this.key, digest, data));
    return digest;
  }

  async get(digest: string): Promise<Buffer> {
    const stored = await this.backend.read(requireDigest(digest));
    const plain = this.key === undefined ? stored : open(this.key, digest, stored, this.description);
    if (sha256(plain) !== digest) {
      throw new MitosError('internal', `workspace object ${digest} in ${this.description} does not match its digest`, {
        digest,
      });
    }
    return plain;
  }

  has(digest: string): Promise<boolean> {
    return this.backend.has(requireDigest(digest));
  }

  delete(digest: string): Promise<void> {
    return this.backend.delete(requireDigest(digest));
  }

  list(): Promise<string[]> {
    return this.backend.list();
  }
}

function seal(key: Buffer, digest: string, data: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  // The digest is authenticated data: a ciphertext moved under another name fails to open.
  cipher.setAAD(Buffer.from(digest));
  const body = Buffer.concat([cipher.update(data), cipher.final()]);
  return Buffer.concat([MAGIC, nonce, cipher.getAuthTag(), body]);
}

function open(key: Buffer, digest: string, sealed: Buffer, where: string): Buffer {
  const head = MAGIC.length + NONCE_BYTES + TAG_BYTES;
  if (sealed.length < head || !sealed.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new MitosError('internal', `workspace object ${digest} in ${where} is not sealed in this store's format`, {
      digest,
    });
  }
  const nonce = sealed.subarray(MAGIC.length, MAGIC.length + NONCE_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(Buffer.from(digest));
  decipher.setAuthTag(sealed.subarray(MAGIC.length + NONCE_BYTES, head));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(head)), decipher.final()]);
  } catch {
    throw new MitosError(
      'internal',
      `workspace object ${digest} in ${where} failed authentication (wrong key or tampered)`,
      {
        digest,
      },
    );
  }
}
