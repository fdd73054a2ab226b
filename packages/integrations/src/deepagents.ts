/**
 * deepagents (`deepagents`, the LangChain deep-agent harness): a sandbox backend over a mitos
 * sandbox, like the E2B and Daytona backends of its Python package. It implements the three
 * primitives `BaseSandbox` builds on (`execute`, `uploadFiles`, `downloadFiles`); `ls`, `read`,
 * `write`, `edit`, `grep` and `glob` come from `BaseSandbox` over `execute`. Fork is a mitos
 * operation the backend protocol lacks, offered as `backend.fork(n)`.
 *
 * @example
 * import { createDeepAgent } from 'deepagents';
 * import { create } from '@mitos/sdk';
 * import { MitosSandboxBackend } from '@mitos/integrations/deepagents';
 * const backend = new MitosSandboxBackend(await create('python'));
 * const agent = createDeepAgent({ model, backend });
 * @module
 */
import { AgentRunError, ExecutionDeadlineError, type Sandbox } from '@mitos/sdk';
import {
  BaseSandbox,
  type ExecuteResponse,
  type FileDownloadResponse,
  type FileOperationError,
  type FileUploadResponse,
} from 'deepagents';

export interface MitosBackendOptions {
  /** Per-command timeout in seconds (default 300). */
  timeoutSeconds?: number;
  /** Output beyond this many characters is cut and reported as truncated (default 100000). */
  maxOutputChars?: number;
}

export class MitosSandboxBackend extends BaseSandbox {
  readonly id: string;
  readonly sandbox: Sandbox;
  readonly #timeoutSeconds: number;
  readonly #maxOutputChars: number;

  constructor(sandbox: Sandbox, opts: MitosBackendOptions = {}) {
    super();
    this.sandbox = sandbox;
    this.id = sandbox.id;
    this.#timeoutSeconds = opts.timeoutSeconds ?? 300;
    this.#maxOutputChars = opts.maxOutputChars ?? 100_000;
  }

  async execute(command: string): Promise<ExecuteResponse> {
    try {
      // One stream, in the order the command wrote it, as the protocol's `output` is.
      const result = await this.sandbox.exec(`{ ${command}\n} 2>&1`, { timeoutSeconds: this.#timeoutSeconds });
      const truncated = result.stdout.length > this.#maxOutputChars;
      return {
        output: truncated ? result.stdout.slice(0, this.#maxOutputChars) : result.stdout,
        exitCode: result.exitCode,
        truncated,
      };
    } catch (err) {
      if (err instanceof ExecutionDeadlineError) {
        return { output: `command timed out after ${this.#timeoutSeconds} s`, exitCode: 124, truncated: false };
      }
      throw err;
    }
  }

  async uploadFiles(files: Array<[string, Uint8Array]>): Promise<FileUploadResponse[]> {
    const out: FileUploadResponse[] = [];
    for (const [path, content] of files) {
      try {
        await this.sandbox.files.write(path, content);
        out.push({ path, error: null });
      } catch (err) {
        out.push({ path, error: fileError(err) });
      }
    }
    return out;
  }

  async downloadFiles(paths: string[]): Promise<FileDownloadResponse[]> {
    const out: FileDownloadResponse[] = [];
    for (const path of paths) {
      try {
        out.push({ path, content: await this.sandbox.files.readBytes(path), error: null });
      } catch (err) {
        out.push({ path, content: null, error: fileError(err) });
      }
    }
    return out;
  }

  /** mitos fork: `n` live copies of this sandbox, each its own backend. */
  async fork(n = 1): Promise<MitosSandboxBackend[]> {
    return (await this.sandbox.fork(n)).map((child) => new MitosSandboxBackend(child));
  }
}

/** The protocol's four file errors; anything else (server down, auth) is thrown, not disguised. */
function fileError(err: unknown): FileOperationError {
  if (!(err instanceof AgentRunError)) throw err;
  if (err.code === 'not_found') return 'file_not_found';
  if (err.code === 'invalid_request') return 'invalid_path';
  if (/^EISDIR/.test(err.errorCause)) return 'is_directory';
  if (/^(EACCES|EPERM|EROFS)/.test(err.errorCause)) return 'permission_denied';
  throw err;
}
