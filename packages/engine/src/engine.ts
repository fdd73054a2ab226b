/**
 * The engine's public surface: sandboxes on one host. The server speaks HTTP and calls this;
 * drivers (Linux namespaces today) implement it. Nothing here knows about HTTP.
 * Every failure is a MitosError from @mitos/protocol with a stable code.
 */
import type { BuildContext, NetworkPosture, TemplateBuildEvent, TemplateSpec } from '@mitos/protocol';
import type { ForkCarried, ForkOptions, ForkOutcome } from './engine-fork.js';

export type * from './engine-fork.js';

export interface ResourceLimits {
  /** Hard memory limit in bytes (the sandbox is OOM-killed inside itself above it). */
  memoryBytes: number;
  /** Maximum number of tasks (processes and threads) in the sandbox. */
  pids: number;
  /** CPU quota in cores (0.5 = half a core). */
  cpus: number;
  /**
   * Bytes the sandbox may write to its filesystem (writes past it fail with EDQUOT inside, and
   * `disk_full` through the files API). Absent or 0: no per-sandbox cap, only the volume's size.
   */
  diskBytes?: number;
}

/** Why a sandbox ends: a terminate call (any surface), its deadline, or its VM/process lost. */
export type EndReason = 'terminated' | 'deadline' | 'lost';

export type SandboxState = 'creating' | 'pooled' | 'running' | 'paused' | 'terminating' | 'terminated';

/**
 * Sandbox lifecycle (a `pooled` sandbox is a warm, launched sandbox nobody owns yet; a create
 * takes one and renames it, and it continues as `running`):
 *
 *   creating --launch ok--> running <--pause/resume--> paused
 *       |                      |                          |
 *   launch failed          terminate / deadline       terminate / deadline
 *       v                      v                          v
 *   (reaped)               terminating --teardown--> (row removed)
 *
 * Operations other than terminate and resume on a paused sandbox fail with
 * `sandbox_not_running` (409).
 */

export interface TemplateInfo {
  id: string;
  /** The root filesystem this template runs (python, node, base). */
  image: string;
  ready: boolean;
  createdAt: Date;
  creationTimeMs: number;
  /** The posture its sandboxes get unless a create or fork names their own. */
  network: NetworkPosture;
  limits: ResourceLimits;
}

export interface SandboxInfo {
  id: string;
  templateId: string;
  state: SandboxState;
  createdAt: Date;
  /** Wall time of the create, in milliseconds (> 0). */
  forkTimeMs: number;
  hostname: string;
  limits: ResourceLimits;
  parentId: string | null;
  generation: number;
  /** A fork's child: what that fork carried into it (kept with the sandbox, survives restarts). */
  forkCarried?: ForkCarried;
  /** The sandbox's own env (given at create, inherited by forks); absent when it has none. */
  env?: Record<string, string>;
}

export interface CreateTemplateOptions {
  id: string;
  network?: NetworkPosture;
  /** Called with human-readable build progress lines (debootstrap can take a minute). */
  onProgress?: (line: string) => void;
}

export interface BuildTemplateOptions {
  id: string;
  spec: TemplateSpec;
  context?: BuildContext;
  /** Build arguments (Dockerfile ARG): part of every step's cache key. */
  args?: Record<string, string>;
  noCache?: boolean;
  /** The template's runtime posture (deny both ways when absent). */
  network?: NetworkPosture;
  /**
   * The posture the build steps run under (a RUN that installs packages needs its registry);
   * the template's runtime posture when absent. Not part of any step's cache key, as in Docker.
   */
  buildNetwork?: NetworkPosture;
  onEvent?: (event: TemplateBuildEvent) => void;
  signal?: AbortSignal;
}

export type { ImagePuller, ImagePusher, ImportLayoutOptions, OciTools } from './oci-tools.js';

import type { ImportLayoutOptions } from './oci-tools.js';
import type { BuiltImageCache } from './templates/image-archive.js';

/** Templates built from a spec (templates as code); on engines whose storage can snapshot. */
export interface TemplateBuildService {
  /** Refuse at once what `build` would refuse before running a step (bad id, postures this host cannot enforce). */
  check(options: BuildTemplateOptions): void;
  build(options: BuildTemplateOptions): Promise<TemplateInfo>;
  /** Remove a template (its sandboxes keep running; its cached images stay until prune). */
  delete(id: string): Promise<boolean>;
  /** Remove cached build steps and images that no template references. */
  prune(): Promise<{ removed: string[]; kept: number }>;
  /** Push a template to an OCI registry as an image `fromImage` pulls back to the same tree. */
  push(id: string, reference: string, onLine?: (line: string) => void): Promise<{ reference: string }>;
  /** Write a template as the image tagged `t` of a new OCI layout at `layout` (node-to-node transfer). */
  exportLayout(id: string, layout: string, onLine?: (line: string) => void): Promise<{ digest: string }>;
  /** Make template `id` from image `name` of a local OCI layout another node exported, running no step. */
  importLayout(options: ImportLayoutOptions): Promise<TemplateInfo>;
  /** The build context's blob store (copy sources, by SHA-256). */
  readonly context: import('./templates/build/context-store.js').ContextStore | undefined;
}

export interface CreateSandboxOptions {
  id: string;
  templateId: string;
  limits?: Partial<ResourceLimits>;
  /** The sandbox's network posture; the template's when absent. */
  network?: NetworkPosture;
  /** Env for everything the sandbox runs (a call's own env wins); names are checked. */
  env?: Record<string, string>;
}

/**
 * For callers that must tell a refusal from a failure (a stream, before its 200). The engine
 * looks the sandbox up once per call; `onAccepted` runs when it has found the sandbox in a
 * state that allows the call, before any work starts. An error before it is a refusal
 * (not_found, sandbox_not_running); a throw from it refuses the call with that error.
 */
export interface Acceptance {
  onAccepted?: (sandbox: SandboxInfo) => void;
}

/**
 * A lifetime change decided on the call's one read of the row: a deadline (null: none), or a
 * function of the sandbox as found and its current deadline that returns one; undefined from
 * it keeps the current deadline.
 */
export type DeadlineChange = Date | null | ((sandbox: SandboxInfo, current: Date | null) => Date | null | undefined);

/** Pause or resume; `deadline` is set on the same read, once the state has changed. */
export interface LifecycleOptions extends Acceptance {
  deadline?: DeadlineChange;
}

/** A sandbox with its posture (absent unless running or paused) and deadline, from one read. */
export type SandboxDetail = SandboxInfo & { network?: NetworkPosture; deadline: Date | null };

/**
 * `beforeEnd` runs once the end's lookup found the sandbox, before it ends; a throw refuses the end.
 * `onTeardown` is told when the sandbox is refused to every call and its teardown has begun, so a
 * caller that need not wait for the host to be clean can answer then (the end's promise still
 * settles once the sandbox is gone).
 */
export type EndAcceptance = {
  beforeEnd?: (sandbox: SandboxInfo) => Promise<void>;
  onTeardown?: () => void;
};

export interface ExecOptions extends Acceptance {
  command: string;
  /** Working directory inside the sandbox; default /workspace. */
  cwd?: string;
  env?: Record<string, string>;
  /** Kill the whole process group and report exit code 124 after this many ms. */
  timeoutMs: number;
  /**
   * Run as this user of the sandbox (a name from its /etc/passwd; its groups from /etc/group),
   * with HOME, USER, LOGNAME and SHELL set as a login would (the call's env still wins).
   * Absent: root. An unknown name fails with `invalid_request`.
   */
  user?: string;
  /** Bytes for the command's stdin, which is closed after them; absent: stdin is /dev/null. */
  stdin?: Buffer;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Aborting kills the process group. */
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
  timedOut: boolean;
  stdout: Buffer;
  stderr: Buffer;
  durationMs: number;
}

export type FileKind = 'file' | 'dir' | 'symlink' | 'other';

export interface FileStat {
  name: string;
  kind: FileKind;
  size: number;
  /** POSIX permission bits (mode & 0o7777). */
  mode: number;
  mtimeMs: number;
}

export interface SandboxFiles {
  read(sandboxId: string, path: string): Promise<Buffer>;
  /** Creates parent directories (0755); replaces the file atomically. */
  write(sandboxId: string, path: string, data: Buffer, mode?: number): Promise<void>;
  /** A directory's entries; a regular file lists as itself; missing path: not_found. */
  list(sandboxId: string, path: string): Promise<FileStat[]>;
  stat(sandboxId: string, path: string): Promise<FileStat>;
  mkdir(sandboxId: string, path: string): Promise<void>;
  /** Recursive; a missing path is not an error. */
  remove(sandboxId: string, path: string): Promise<void>;
}

export interface ProcessOptions extends Acceptance {
  command: string;
  cwd?: string;
  env?: Record<string, string>;
  /** 0 = no deadline (background processes); otherwise as ExecOptions.timeoutMs. */
  timeoutMs: number;
  /** As ExecOptions.user. */
  user?: string;
  /** Run under a pseudo-terminal of this size (stdout carries the merged terminal output). */
  pty?: { cols: number; rows: number };
  /** Keep stdin open for `write`. */
  stdin?: boolean;
}

/** A running process inside a sandbox, started with `startProcess`. */
export interface ProcessHandle {
  /** Pid inside the sandbox's pid namespace. */
  readonly pid: number;
  /** Output so far is replayed to a new subscriber, then live chunks follow. Returns an unsubscribe. */
  subscribe(listener: ProcessListener): () => void;
  write(data: Buffer): void;
  closeStdin(): void;
  resize(cols: number, rows: number): void;
  /** Signal the process group (default SIGKILL). */
  kill(signal?: number): void;
  wait(): Promise<ExecResult>;
}

export interface ProcessListener {
  onStdout?(chunk: Buffer): void;
  onStderr?(chunk: Buffer): void;
  onExit?(result: ExecResult): void;
}

export interface ProcessInfo {
  pid: number;
  command: string;
  /** True for processes started with startProcess({background}) that the engine tracks. */
  tracked: boolean;
  startedAt?: Date;
}

export interface RunCodeOptions extends Acceptance {
  code: string;
  /** python (default) | javascript | typescript */
  language?: string;
  /**
   * A named kernel of the language (`^[a-z0-9]{1,40}$`) with state of its own; absent: the
   * language's default kernel. It starts on first use and ends with the sandbox or when killed.
   */
  context?: string;
  timeoutMs: number;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  onResult?: (result: CodeResult) => void;
  signal?: AbortSignal;
}

/** One rich output of a cell: MIME type -> payload (base64 for binary types, text otherwise). */
export interface CodeResult {
  text?: string;
  data: Record<string, string>;
  isMainResult: boolean;
}

export interface CodeError {
  name: string;
  value: string;
  traceback: string[];
}

export interface RunCodeOutcome {
  exitCode: number;
  results: CodeResult[];
  stdout: Buffer;
  stderr: Buffer;
  error?: CodeError;
  durationMs: number;
}

export interface SandboxUsage {
  sandboxId: string;
  memory: { uniqueBytes: number; sharedBytes: number; cgroupBytes: number };
  disk: { exclusiveBytes: number; sharedBytes: number } | null;
  cpuNs: number;
  /** Bytes the sandbox sent out through its network link (0 with no link). */
  egressBytes: number;
}

/** The warm pool as the server reports it: its size per template and what each holds. */
export interface WarmPoolStatus {
  /** Pooled sandboxes kept per template (0: no pool). */
  size: number;
  /** False when the size is 0, the driver cannot rename, or the engine is closing. */
  enabled: boolean;
  templates: { template: string; ready: number; refilling: boolean }[];
}

export interface Engine {
  readonly name: string;
  listTemplates(): TemplateInfo[];
  getTemplate(id: string): TemplateInfo | undefined;
  /** Get-or-create: builds the image on first use; concurrent calls build once. */
  ensureTemplate(options: CreateTemplateOptions): Promise<TemplateInfo>;
  /** Build from a spec, delete, prune (absent on engines that cannot build templates). */
  readonly templateBuilds?: TemplateBuildService;
  /** The cache of built-in image trees, moved between cluster nodes (absent: this engine cannot). */
  readonly builtImages?: BuiltImageCache;
  /** The warm pool (absent on engines without one). */
  readonly pool?: { status(): WarmPoolStatus };
  /** Create a sandbox from a template. Unknown template ids are not_found. */
  create(options: CreateSandboxOptions): Promise<SandboxInfo>;
  get(id: string): SandboxInfo | undefined;
  /** get() with the posture and deadline, from one read of the sandbox's record. */
  describe(id: string): SandboxDetail | undefined;
  list(): SandboxInfo[];
  exec(sandboxId: string, options: ExecOptions): Promise<ExecResult>;
  readonly files: SandboxFiles;
  /** Start a process that outlives the caller's connection; see ProcessHandle. */
  startProcess(sandboxId: string, options: ProcessOptions): Promise<ProcessHandle>;
  /** Processes running in the sandbox (from its /proc). */
  listProcesses(sandboxId: string): Promise<ProcessInfo[]>;
  /** The handle of a process this engine started, if it is still tracked. */
  getProcess(sandboxId: string, pid: number): ProcessHandle | undefined;
  signalProcess(sandboxId: string, pid: number, signal: number): Promise<void>;
  /** Freeze every process (no CPU), keeping memory and files; resume continues exactly there. */
  pause(sandboxId: string, options?: LifecycleOptions): Promise<void>;
  resume(sandboxId: string, options?: LifecycleOptions): Promise<void>;
  /** Terminate the sandbox at this time (null clears). Enforced by the engine, survives restarts. */
  setDeadline(sandboxId: string, deadline: DeadlineChange): Promise<void>;
  getDeadline(sandboxId: string): Date | null;
  /** A TCP connection to 127.0.0.1:port inside the sandbox's network namespace. */
  connectPort(sandboxId: string, port: number, acceptance?: Acceptance): Promise<import('node:stream').Duplex>;
  /** Run a cell in the sandbox's stateful kernel for `language`. */
  runCode(sandboxId: string, options: RunCodeOptions): Promise<RunCodeOutcome>;
  /** Branch a running sandbox into `count` independent copy-on-write children. */
  fork(sandboxId: string, options: ForkOptions): Promise<ForkOutcome>;
  /** Memory, disk and CPU per sandbox, counting shared copy-on-write data once. */
  usage(sandboxId: string, acceptance?: Acceptance): Promise<SandboxUsage>;
  /** The sandbox's effective network posture. */
  getNetwork(sandboxId: string): NetworkPosture;
  /** Change a running sandbox's posture live; new connections follow it, older ones are cut. */
  setNetwork(sandboxId: string, posture: NetworkPosture): Promise<NetworkPosture>;
  /** Kill everything, unmount, remove storage. Idempotent: unknown ids resolve. */
  terminate(sandboxId: string, reason?: EndReason, acceptance?: EndAcceptance): Promise<boolean>;
  /**
   * `hook` runs before a sandbox ends for any reason, while it still runs (a lost one excepted),
   * within a bounded time; the sandbox ends whatever the hook does. Returns an unsubscribe.
   */
  onSandboxEnding(hook: (sandboxId: string, reason: EndReason) => Promise<void>): () => void;
  /** Called after a sandbox is gone for any reason (terminate, deadline, crash). Returns an unsubscribe. */
  onSandboxGone(listener: (sandboxId: string) => void): () => void;
  /** Stop accepting work; sandboxes keep running (they are reattached on next start). */
  close(): Promise<void>;
}
