/** Objects as files under `<dir>/<first two hex>/<rest>`, owner-only, each written atomically. */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { missingObject, type ObjectBackend } from './blob-store.js';
import { DIGEST_PATTERN } from './manifest.js';

export class LocalBackend implements ObjectBackend {
  readonly description: string;

  constructor(private readonly dir: string) {
    this.description = `local:${dir}`;
  }

  private path(digest: string): string {
    return join(this.dir, digest.slice(0, 2), digest.slice(2));
  }

  async has(digest: string): Promise<boolean> {
    return stat(this.path(digest)).then(
      () => true,
      () => false,
    );
  }

  async put(digest: string, bytes: Buffer): Promise<void> {
    const target = this.path(digest);
    if (await this.has(digest)) return;
    await mkdir(join(this.dir, digest.slice(0, 2)), { recursive: true, mode: 0o700 });
    const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, bytes, { mode: 0o600, flag: 'wx' });
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async read(digest: string): Promise<Buffer> {
    return readFile(this.path(digest)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw missingObject(digest, this.description);
      throw err;
    });
  }

  async delete(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  async list(): Promise<string[]> {
    const out: string[] = [];
    const prefixes = await readdir(this.dir).catch(() => [] as string[]);
    for (const prefix of prefixes) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      for (const rest of await readdir(join(this.dir, prefix))) {
        const digest = prefix + rest;
        if (DIGEST_PATTERN.test(digest)) out.push(digest);
      }
    }
    return out;
  }
}
