/**
 * Request and response shapes of the seed wire protocol v1 (docs: ../shared/docs/wire-v1.md).
 * Requests are validated with zod on the server; responses are plain types the SDK reads.
 * JSON on the wire is snake_case, as the seed defines it.
 */
import { z } from 'zod';

/** Ceiling the seed SDK enforces client-side for every timeout (seconds). */
export const MAX_TIMEOUT_SECONDS = 86_400;
/** Default exec timeout (seconds) when a request omits it or sends 0. */
export const DEFAULT_EXEC_TIMEOUT_SECONDS = 30;
/** Sandbox-API bodies above this are refused with body_too_large. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

export const NetworkSchema = z
  .object({
    block: z.boolean().optional(),
    egress: z.enum(['deny', 'allow', '']).optional(),
    allow_domains: z.array(z.string()).optional(),
    allow_cidrs: z.array(z.string()).optional(),
    inbound: z.enum(['deny', 'allow', '']).optional(),
    inbound_cidrs: z.array(z.string()).optional(),
  })
  .loose();
export type NetworkRequest = z.infer<typeof NetworkSchema>;

export const ResourceLimitsSchema = z
  .object({
    memory_mb: z.number().int().min(16).max(1_048_576).optional(),
    pids: z.number().int().min(8).max(1_000_000).optional(),
    cpus: z.number().min(0.01).max(1024).optional(),
    disk_mb: z.number().int().min(16).max(16_777_216).optional(),
  })
  .strict();
export type ResourceLimitsRequest = z.infer<typeof ResourceLimitsSchema>;

export const CreateTemplateRequestSchema = z
  .object({
    id: z.string(),
    init_wait_seconds: z.number().int().min(0).optional(),
    network: NetworkSchema.optional(),
  })
  .loose();
export type CreateTemplateRequest = z.infer<typeof CreateTemplateRequestSchema>;

export const ForkRequestSchema = z
  .object({
    template: z.string(),
    id: z.string().optional(),
    /** mitos extension: per-sandbox resource overrides. */
    limits: ResourceLimitsSchema.optional(),
  })
  .loose();
export type ForkRequest = z.infer<typeof ForkRequestSchema>;

const Env = z.record(z.string(), z.string());
const TimeoutSeconds = z.number().int().min(0);

export const ExecRequestSchema = z
  .object({
    sandbox: z.string(),
    command: z.string(),
    timeout: TimeoutSeconds.optional(),
    working_dir: z.string().optional(),
    env: Env.optional(),
  })
  .loose();
export type ExecRequest = z.infer<typeof ExecRequestSchema>;

export const FileReadRequestSchema = z
  .object({ sandbox: z.string(), path: z.string(), binary: z.boolean().optional() })
  .loose();
export const FileWriteRequestSchema = z
  .object({
    sandbox: z.string(),
    path: z.string(),
    content: z.string(),
    binary: z.boolean().optional(),
    mode: z.number().int().min(0).max(0o7777).optional(),
  })
  .loose();
export const FilePathRequestSchema = z.object({ sandbox: z.string(), path: z.string() }).loose();
export type FileReadRequest = z.infer<typeof FileReadRequestSchema>;
export type FileWriteRequest = z.infer<typeof FileWriteRequestSchema>;
export type FilePathRequest = z.infer<typeof FilePathRequestSchema>;

export interface HealthResponse {
  status: 'ok';
  mock: false;
  templates: number;
  sandboxes: number;
  engine: string;
  version: string;
}

export interface NetworkConfig {
  egress: 'deny' | 'allow';
  inbound: 'deny' | 'allow';
  block?: boolean;
  allow_domains?: string[];
  allow_cidrs?: string[];
  inbound_cidrs?: string[];
}

export interface TemplateRecord {
  id: string;
  ready: boolean;
  created_at: string;
  creation_time_ms: number;
  network: NetworkConfig;
  /** mitos extension: which root filesystem backs this template (python, node, base). */
  image?: string;
}

export interface SandboxRecord {
  id: string;
  template_id: string;
  endpoint: string;
  created_at: string;
  fork_time_ms: number;
  network: Record<string, unknown>;
  /** mitos extensions */
  state?: string;
  hostname?: string;
  parent_id?: string | null;
  generation?: number;
}

export interface ExecResponse {
  exit_code: number;
  stdout: string;
  stderr: string;
  exec_time_ms: number;
}

export interface FileReadResponse {
  content: string;
  size: number;
}

export interface FileEntryWire {
  name: string;
  is_dir: boolean;
  size: number;
  /** Go FileMode bits, as the seed reference reports them (directory = bit 31, symlink = bit 27). */
  mode: number;
  modified_at: number;
}

export interface FileListResponse {
  entries: FileEntryWire[];
}

export interface StatusResponse {
  status: string;
}

/** Go's os.FileMode type bits, which the seed's `mode` field carries. */
export const GO_MODE_DIR = 2 ** 31;
export const GO_MODE_SYMLINK = 2 ** 27;
