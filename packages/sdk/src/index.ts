/**
 * @mitos/sdk: isolated, forkable sandboxes for AI agents.
 *
 * @example
 * import { create } from '@mitos/sdk';
 * await using sb = await create('python');
 * await sb.files.write('/workspace/a.py', 'print(6 * 7)');
 * console.log((await sb.exec('python /workspace/a.py')).stdout); // 42
 * @module
 */
export { ID_PATTERN, MAX_TIMEOUT_SECONDS, newIdempotencyKey, newSandboxId } from '@mitos/protocol';
export {
  type ApiKeySource,
  type BaseUrlSource,
  type ConfigInput,
  DEFAULT_BASE_URL,
  type ResolvedConfig,
  resolveConfig,
} from './config.js';
export { type CreateOptions, create } from './create.js';
export { type Credentials, credentialsPath, readCredentials, writeCredentials } from './credentials.js';
export {
  AgentRunError,
  type AgentRunErrorInit,
  ConflictError,
  type ErrorContext,
  type ErrorEnvelopeJson,
  ExecutionDeadlineError,
  FileError,
  IdleTimeoutError,
  NotFoundError,
  RateLimitedError,
  RequestCanceledError,
  TimeoutTooLargeError,
  UnauthorizedError,
} from './errors.js';
export { SandboxFiles, type WriteOptions } from './files.js';
export { type ExecOptions, Sandbox } from './sandbox.js';
export { type ForkOptions, SandboxServer, type TemplateOptions } from './server.js';
export type {
  CallOptions,
  ClientOptions,
  ExecResult,
  FileEntry,
  HealthInfo,
  Network,
  ResourceLimits,
  SandboxInfo,
  TemplateInfo,
} from './types.js';
