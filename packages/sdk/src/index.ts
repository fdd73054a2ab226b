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
export { ID_PATTERN, MAX_TIMEOUT_SECONDS, newIdempotencyKey, newSandboxId } from '@mitos/protocol/client';
export { BackgroundProcess, type ProcessCallbacks } from './background.js';
export * from './cluster/index.js';
export { Execution, type ExecutionError, MIME, Result } from './code/execution.js';
export type { RunCodeOptions } from './code/run-code.js';
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
  DockerfileError,
  type DockerfileStage,
  dockerfileTemplates,
  type ParsedDockerfile,
  parseDockerfile,
  stageTemplateId,
} from './dockerfile.js';
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
  SandboxNotRunningError,
  TimeoutTooLargeError,
  UnauthorizedError,
} from './errors.js';
export type { ExecChunk, ExecEvent, ExecExit } from './exec-stream.js';
export { SandboxFiles, type WriteOptions } from './files.js';
export {
  type ForkCarried,
  type ForkReport,
  type LiveForkOptions,
  MAX_FORK_COUNT,
  type NotCarriedProcess,
} from './fork.js';
export type { DiskUsage, MemoryUsage, Metering, SandboxMetering } from './metering.js';
export type { Forward, ForwardOptions, Preview } from './ports.js';
export { type BackgroundOptions, type ProcessInfo, type ProcessLogs, SandboxProcesses } from './processes.js';
export { PTY_SUBPROTOCOL, PtyHandle, type PtyOptions } from './pty.js';
export { Sandbox } from './sandbox.js';
export { type ForkOptions, SandboxServer, type TemplateOptions } from './server.js';
export { shellSplit } from './shell-words.js';
export type { SignalLike } from './signals.js';
export { Template, type TemplateBuildOptions } from './template.js';
export { collectContext } from './template-build.js';
export type {
  CallOptions,
  ClientOptions,
  ExecOptions,
  ExecResult,
  FileEntry,
  HealthInfo,
  Network,
  ResourceLimits,
  SandboxDetails,
  SandboxInfo,
  TemplateInfo,
  TerminateOptions,
} from './types.js';
export {
  type CommitResult,
  type Revision,
  WorkspaceClient,
  type WorkspaceDiff,
  type WorkspaceInfo,
  type WorkspaceRetention,
} from './workspaces.js';
