/**
 * `sandbox.files`: read, write and list files inside one sandbox (wire-v1.md 4.10-4.14).
 * @module
 */

import { AgentRunError } from './errors.js';
import { fromHex, toHex } from './hex.js';
import type { HttpClient } from './http.js';
import { fileContent, toFileEntries } from './records.js';
import type { CallOptions, FileEntry } from './types.js';
import { assertPath } from './validate.js';

/** Sandbox calls answer quickly; the seed SDK gives them 30 s. */
export const DEFAULT_SANDBOX_CALL_TIMEOUT_MS = 30_000;

export interface WriteOptions extends CallOptions {
  /** Permission bits, e.g. 0o755; the server default is 0o644. */
  mode?: number;
}

export class SandboxFiles {
  readonly #http: HttpClient;
  readonly #sandbox: string;

  /** @internal Use `sandbox.files`. */
  constructor(http: HttpClient, sandboxId: string) {
    this.#http = http;
    this.#sandbox = sandboxId;
  }

  /**
   * Read a file as text (invalid UTF-8 becomes U+FFFD on the server).
   * @example const plan = await sb.files.read('/workspace/plan.txt');
   */
  async read(path: string, opts: CallOptions = {}): Promise<string> {
    return fileContent(await this.#call('read', path, {}, opts));
  }

  /** Read a file's exact bytes. */
  async readBytes(path: string, opts: CallOptions = {}): Promise<Uint8Array> {
    return fromHex(fileContent(await this.#call('read', path, { binary: true }, opts)));
  }

  /**
   * Write text or bytes, creating parent directories.
   * @example await sb.files.write('/workspace/run.sh', '#!/bin/sh\necho hi\n', { mode: 0o755 });
   */
  async write(path: string, content: string | Uint8Array, opts: WriteOptions = {}): Promise<void> {
    const body: Record<string, unknown> =
      typeof content === 'string'
        ? { content }
        : content instanceof Uint8Array
          ? { content: toHex(content), binary: true }
          : {};
    if (!('content' in body)) {
      throw new AgentRunError({
        code: 'invalid_request',
        message: 'invalid file content',
        cause: `content must be a string or a Uint8Array, got ${typeof content}`,
        remediation: 'pass text as a string and binary data as a Uint8Array (a Buffer is one)',
        context: { field: 'content' },
      });
    }
    if (opts.mode !== undefined) body.mode = opts.mode;
    await this.#call('write', path, body, opts);
  }

  /** List a directory (default `/`). */
  async list(path = '/', opts: CallOptions = {}): Promise<FileEntry[]> {
    return toFileEntries(await this.#call('list', path, {}, opts));
  }

  /** True if the path exists; a 404 from list means it does not, other errors propagate. */
  async exists(path: string, opts: CallOptions = {}): Promise<boolean> {
    try {
      await this.#call('list', path, {}, opts);
      return true;
    } catch (err) {
      if (err instanceof AgentRunError && err.status === 404) return false;
      throw err;
    }
  }

  /** Remove a file or a directory tree; a missing path is not an error. */
  async remove(path: string, opts: CallOptions = {}): Promise<void> {
    await this.#call('remove', path, {}, opts);
  }

  /** Create a directory and its parents; an existing directory is not an error. */
  async mkdir(path: string, opts: CallOptions = {}): Promise<void> {
    await this.#call('mkdir', path, {}, opts);
  }

  #call(verb: string, path: string, extra: Record<string, unknown>, opts: CallOptions): Promise<unknown> {
    assertPath(path);
    return this.#http.request(`POST`, `/v1/files/${verb}`, {
      body: { sandbox: this.#sandbox, path, ...extra },
      timeoutMs: this.#http.timeoutOr(DEFAULT_SANDBOX_CALL_TIMEOUT_MS),
      signal: opts.signal,
    });
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `SandboxFiles { sandbox: '${this.#sandbox}' }`;
  }
}
