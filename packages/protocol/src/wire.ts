/**
 * Request and response shapes of the seed wire protocol v1 (docs: ../shared/docs/wire-v1.md).
 * Written once, as zod: the server validates requests with these schemas, the SDK reads the
 * inferred types, and openapi.ts renders both into the OpenAPI document.
 * JSON on the wire is snake_case, as the seed defines it.
 */
import { z } from 'zod';
import { NetworkPostureSchema, NetworkRequestSchema } from './network.js';
import { BuildTemplateRequestFields } from './template-spec.js';

export { DEFAULT_EXEC_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS } from './limits.js';
/** Sandbox-API bodies above this are refused with body_too_large. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** The wire `network` body (validated entry by entry in network.ts). */
export const NetworkSchema = NetworkRequestSchema;
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
    /** mitos extension: build this template from a SandboxTemplate spec (answers 202). */
    ...BuildTemplateRequestFields,
  })
  .loose();
export type CreateTemplateRequest = z.infer<typeof CreateTemplateRequestSchema>;

export const ForkRequestSchema = z
  .object({
    template: z.string(),
    id: z.string().optional(),
    /** mitos extension: per-sandbox resource overrides. */
    limits: ResourceLimitsSchema.optional(),
    /** mitos extension: bind the new sandbox to this workspace (hydrate its head into /workspace). */
    workspace: z.string().optional(),
    /** mitos extension: this sandbox's network posture (the template's when absent). */
    network: NetworkSchema.optional(),
    /**
     * mitos extension: env for everything this sandbox runs (exec, processes, terminals,
     * run_code); a call's own env wins; its forks inherit it. Names: letters, digits and _.
     */
    env: z.record(z.string(), z.string()).optional(),
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
    /** mitos extension: the command's stdin, base64; stdin is closed after it. */
    stdin: z.base64().optional(),
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

export const HealthResponseSchema = z.object({
  status: z.literal('ok'),
  mock: z.literal(false),
  templates: z.number().int(),
  sandboxes: z.number().int(),
  engine: z.string(),
  version: z.string(),
  /** mitos extension: the warm pool (absent when the engine has none). */
  warm_pool: z
    .object({
      /** Pooled sandboxes kept per template (0: no pool). */
      size: z.number().int(),
      enabled: z.boolean(),
      templates: z.array(z.object({ template: z.string(), ready: z.number().int(), refilling: z.boolean() })),
    })
    .optional(),
});
export type HealthResponse = z.infer<typeof HealthResponseSchema>;

export const NetworkConfigSchema = NetworkPostureSchema;
export type NetworkConfig = z.infer<typeof NetworkConfigSchema>;

export const TemplateRecordSchema = z.object({
  id: z.string(),
  ready: z.boolean(),
  created_at: z.string(),
  creation_time_ms: z.number(),
  network: NetworkConfigSchema,
  /** mitos extension: which root filesystem backs this template (python, node, base). */
  image: z.string().optional(),
  /**
   * mitos extension: true when this POST /v1/templates made the template (it did not exist),
   * so a client can tell a typo that created a new template from a reuse.
   */
  created: z.boolean().optional(),
});
export type TemplateRecord = z.infer<typeof TemplateRecordSchema>;

/** A parent process a fork's children do not have, and why. */
export const NotCarriedProcessSchema = z.object({ pid: z.number().int(), command: z.string(), reason: z.string() });

/** A parent process's socket that a fork carrying processes closed in the children (e.g. `tcp 10.0.0.2:41234 -> 203.0.113.10:80`). */
export const ClosedConnectionSchema = z.object({ pid: z.number().int(), command: z.string(), socket: z.string() });

/**
 * What a fork carried into its children (mitos extension): the fork's answer, and each child's
 * record. The one declaration of the fork report: the engine and the SDK hold it as
 * `ForkCarried` (fork-report.ts), these fields in camelCase.
 */
export const ForkCarriedSchema = z.object({
  filesystem: z.boolean(),
  /** Interpreter (run_code) variables, and the names that could not be carried. */
  interpreter: z.boolean(),
  interpreter_skipped: z.array(z.string()),
  /** Running processes (only engines that checkpoint whole process trees). */
  processes: z.boolean(),
  /** Each parent process the children lack (empty when every one was carried). */
  processes_not_carried: z.array(NotCarriedProcessSchema),
  /** Open network connections: never carried (each child has its own address). */
  connections: z.boolean(),
  /**
   * A fork that carries processes: each socket tied to the parent's address (a connection to
   * outside, a bind to that address) that its process has closed in the children, per process;
   * the parent keeps them. Loopback and wildcard sockets are carried. Absent when nothing was closed.
   */
  connections_closed: z.array(ClosedConnectionSchema).optional(),
});
export type ForkCarriedWire = z.infer<typeof ForkCarriedSchema>;

export const SandboxRecordSchema = z.object({
  id: z.string(),
  template_id: z.string(),
  endpoint: z.string(),
  created_at: z.string(),
  fork_time_ms: z.number(),
  network: z.record(z.string(), z.unknown()),
  /** mitos extensions */
  state: z.string().optional(),
  hostname: z.string().optional(),
  parent_id: z.string().nullable().optional(),
  generation: z.number().int().optional(),
  /** A fork's child: what that fork carried into it. */
  carried: ForkCarriedSchema.optional(),
});
export type SandboxRecord = z.infer<typeof SandboxRecordSchema>;

/** POST /v1/sandboxes/{id}/fork: the parent, the children and what the fork carried. */
export const LiveForkResponseSchema = z.object({
  parent: SandboxRecordSchema,
  children: z.array(SandboxRecordSchema),
  fork_time_ms: z.number(),
  carried: ForkCarriedSchema,
  /** Whether the parent was held still while its state was captured. */
  pause_source: z.boolean(),
});
export type LiveForkResponse = z.infer<typeof LiveForkResponseSchema>;

export const ExecResponseSchema = z.object({
  exit_code: z.number().int(),
  stdout: z.string(),
  stderr: z.string(),
  exec_time_ms: z.number(),
});
export type ExecResponse = z.infer<typeof ExecResponseSchema>;

export const FileReadResponseSchema = z.object({ content: z.string(), size: z.number().int() });
export type FileReadResponse = z.infer<typeof FileReadResponseSchema>;

export const FileEntryWireSchema = z.object({
  name: z.string(),
  is_dir: z.boolean(),
  size: z.number().int(),
  /** Go FileMode bits, as the seed reference reports them (directory = bit 31, symlink = bit 27). */
  mode: z.number().int(),
  modified_at: z.number(),
});
export type FileEntryWire = z.infer<typeof FileEntryWireSchema>;

export const FileListResponseSchema = z.object({ entries: z.array(FileEntryWireSchema) });
export type FileListResponse = z.infer<typeof FileListResponseSchema>;

export const StatusResponseSchema = z.object({ status: z.string() });
export type StatusResponse = z.infer<typeof StatusResponseSchema>;

/** Go's os.FileMode type bits, which the seed's `mode` field carries. */
export const GO_MODE_DIR = 2 ** 31;
export const GO_MODE_SYMLINK = 2 ** 27;
