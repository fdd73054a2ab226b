/**
 * The engine's public surface: sandboxes on one host. The server speaks HTTP and calls this;
 * drivers (Linux namespaces today) implement it. Nothing here knows about HTTP.
 * Every failure is a MitosError from @mitos/protocol with a stable code.
 */

export interface ResourceLimits {
  /** Hard memory limit in bytes (the sandbox is OOM-killed inside itself above it). */
  memoryBytes: number;
  /** Maximum number of tasks (processes and threads) in the sandbox. */
  pids: number;
  /** CPU quota in cores (0.5 = half a core). */
  cpus: number;
}

export type SandboxState = 'creating' | 'running' | 'paused' | 'terminating' | 'terminated';

export interface TemplateInfo {
  id: string;
  /** The root filesystem this template runs (python, node, base). */
  image: string;
  ready: boolean;
  createdAt: Date;
  creationTimeMs: number;
  network: { egress: 'deny' | 'allow'; inbound: 'deny' | 'allow' };
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
}

export interface CreateTemplateOptions {
  id: string;
  network?: { egress?: 'deny' | 'allow'; inbound?: 'deny' | 'allow' };
  /** Called with human-readable build progress lines (debootstrap can take a minute). */
  onProgress?: (line: string) => void;
}

export interface CreateSandboxOptions {
  id: string;
  templateId: string;
  limits?: Partial<ResourceLimits>;
}

export interface ExecOptions {
  command: string;
  /** Working directory inside the sandbox; default /workspace. */
  cwd?: string;
  env?: Record<string, string>;
  /** Kill the whole process group and report exit code 124 after this many ms. */
  timeoutMs: number;
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

export interface Engine {
  readonly name: string;
  listTemplates(): TemplateInfo[];
  getTemplate(id: string): TemplateInfo | undefined;
  /** Get-or-create: builds the image on first use; concurrent calls build once. */
  ensureTemplate(options: CreateTemplateOptions): Promise<TemplateInfo>;
  /** Create a sandbox from a template. Unknown template ids are not_found. */
  create(options: CreateSandboxOptions): Promise<SandboxInfo>;
  get(id: string): SandboxInfo | undefined;
  list(): SandboxInfo[];
  exec(sandboxId: string, options: ExecOptions): Promise<ExecResult>;
  readonly files: SandboxFiles;
  /** Kill everything, unmount, remove storage. Idempotent: unknown ids resolve. */
  terminate(sandboxId: string): Promise<boolean>;
  /** Stop accepting work; sandboxes keep running (they are reattached on next start). */
  close(): Promise<void>;
}
