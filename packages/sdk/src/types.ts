/**
 * Public result and option types. The wire is snake_case (wire-v1.md); the SDK speaks
 * camelCase and converts at the boundary in records.ts.
 * @module
 */

/** How to reach the server. Unset fields resolve through {@link resolveConfig}. */
export interface ClientOptions {
  apiKey?: string | undefined;
  baseUrl?: string | undefined;
  /** Client-side timeout for non-exec calls, in ms (0 disables it). */
  timeoutMs?: number | undefined;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
}

export interface TerminateOptions extends CallOptions {
  /**
   * false: return once the sandbox is refused to every call and the server has begun removing
   * it, instead of once it is gone (the server finishes the clean-up). Default true.
   */
  wait?: boolean | undefined;
}

export interface ExecOptions extends CallOptions {
  /** Kill the command after this many seconds (default 30, at most 86400). */
  timeoutSeconds?: number;
  /** Working directory (server default `/workspace`). */
  cwd?: string;
  env?: Record<string, string>;
  /** The command's stdin (text as UTF-8); it is closed after these bytes. Default: empty. */
  stdin?: string | Uint8Array;
  /**
   * Called with each stdout chunk as it arrives. Giving either callback switches the call to
   * the streaming route; the result still carries the full output. A callback that throws
   * cancels the command.
   */
  onStdout?: (data: Uint8Array) => void;
  onStderr?: (data: Uint8Array) => void;
}

/** A mitos extension to fork: per-sandbox resource caps. */
export interface ResourceLimits {
  memoryMb?: number;
  pids?: number;
  cpus?: number;
  diskMb?: number;
}

/**
 * A network posture (a template's default, or one sandbox's); everything is denied unless
 * allowed here. See docs/networking.md.
 */
export interface Network {
  block?: boolean;
  egress?: 'deny' | 'allow';
  /** `host:port` entries, `*.example.com:443` for every name under example.com. */
  allowDomains?: string[];
  /** `address/prefix` entries with an optional `:port`, e.g. `10.1.2.0/24:5432`. */
  allowCidrs?: string[];
  inbound?: 'deny' | 'allow';
  inboundCidrs?: string[];
}

export interface SandboxInfo {
  id: string;
  templateId: string;
  /** Informational; every call goes to the client's base URL. */
  endpoint: string;
  createdAt: string | undefined;
  forkTimeMs: number;
  state: string | undefined;
  /** The sandbox this one was forked from (mitos extension); undefined for one made from a template. */
  parentId?: string | undefined;
}

/** `GET /v1/sandboxes/{id}`: the list record plus lineage and lifetime (mitos extensions). */
export interface SandboxDetails extends SandboxInfo {
  hostname: string | undefined;
  /** The sandbox this one was forked from; undefined for a sandbox made from a template. */
  parentId: string | undefined;
  /** 0 for a sandbox made from a template, parent's generation + 1 for a fork. */
  generation: number | undefined;
  /** When the sandbox will be terminated; undefined when it has no deadline. */
  deadline: Date | undefined;
  /** The limits it runs under (undefined from a server that does not report them). */
  limits: ResourceLimits | undefined;
  /** Its network posture, e.g. `{ egress: 'deny', inbound: 'deny' }`. */
  network: Record<string, unknown> | undefined;
  /** Its own env (given at create or inherited from its parent); undefined from a server without it. */
  env: Record<string, string> | undefined;
}

export interface TemplateInfo {
  id: string;
  ready: boolean;
  createdAt: string | undefined;
  creationTimeMs: number | undefined;
  image: string | undefined;
  /** True when the request that returned this record created the template (it did not exist). */
  created?: boolean;
}

export interface HealthInfo {
  status: string;
  [field: string]: unknown;
}

export interface ExecResult {
  /** The command's exit status; non-zero is a normal result, not an error. */
  exitCode: number;
  stdout: string;
  stderr: string;
  execTimeMs: number;
}

export interface FileEntry {
  name: string;
  isDir: boolean;
  size: number;
  /** Go FileMode bits as the wire carries them (permissions plus type bits). */
  mode: number;
  modifiedAt: Date | undefined;
}
