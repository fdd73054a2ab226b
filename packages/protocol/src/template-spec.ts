/**
 * Templates as code: the SandboxTemplate spec (crd-v1.md section 3 and 13) as `POST
 * /v1/templates {"id","spec"}` accepts it, the content-addressed build context its copy steps
 * read, and the NDJSON events `GET /v1/templates/{id}/build` streams while it builds.
 * Keys are camelCase here because they are the CRD's (the seed's `to_spec()` emits them).
 */
import { z } from 'zod';
import { ErrorEnvelopeSchema } from './errors.js';
import { NetworkRequestSchema } from './network.js';

export const BuildStepSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('run'), run: z.string() }).loose(),
  z.object({ type: z.literal('env'), envName: z.string().min(1), envValue: z.string() }).loose(),
  z.object({ type: z.literal('workdir'), workdir: z.string() }).loose(),
  z
    .object({
      type: z.literal('copy'),
      source: z.string().min(1),
      dest: z.string().min(1),
      /** mitos extension (COPY --from): copy from this template's image instead of the context. */
      from: z.string().min(1).optional(),
    })
    .loose(),
  /** mitos extension (Dockerfile USER): later run steps and the sandbox's processes run as it. */
  z.object({ type: z.literal('user'), user: z.string().min(1) }).loose(),
]);
export type BuildStep = z.infer<typeof BuildStepSchema>;

/** What gates a sandbox of the template as ready once its start command runs (mitos extension). */
export const ReadyCheckSchema = z
  .object({
    /** A shell command that exits 0 once the service is ready. */
    command: z.string().min(1).optional(),
    /** A TCP port inside the sandbox that accepts a connection once the service is ready. */
    port: z.number().int().min(1).max(65_535).optional(),
    timeoutMs: z.number().int().min(100).max(600_000).optional(),
  })
  .strict()
  .refine((r) => (r.command === undefined) !== (r.port === undefined), 'set exactly one of command or port');
export type ReadyCheck = z.infer<typeof ReadyCheckSchema>;

const Quantity = z.union([z.string(), z.number()]);

export const TemplateSpecSchema = z
  .object({
    /** A template id on this server (python, node, base, or one built here) or an OCI reference. */
    image: z.string().min(1),
    buildSteps: z.array(BuildStepSchema).max(500).optional(),
    /** Start command: runs as a tracked background process in every sandbox of the template. */
    command: z.array(z.string()).optional(),
    env: z.array(z.object({ name: z.string().min(1), value: z.string().optional() }).loose()).optional(),
    resources: z.object({ cpu: Quantity.optional(), memory: Quantity.optional() }).loose().optional(),
    /** The template's runtime network posture (same shape as POST /v1/templates `network`). */
    network: z.record(z.string(), z.unknown()).optional(),
    /** mitos extension: the ready check of the start command. */
    ready: ReadyCheckSchema.optional(),
  })
  .loose();
export type TemplateSpec = z.infer<typeof TemplateSpecSchema>;

/** A copy step's file in the build context: its content by SHA-256 and its mode bits. */
export const ContextFileSchema = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  mode: z.number().int().min(0).max(0o7777).optional(),
});
export type ContextFile = z.infer<typeof ContextFileSchema>;

/** Relative path (POSIX, no `..`) -> file. Blobs travel separately: POST /v1/template-context/{sha256}. */
export const BuildContextSchema = z.object({ files: z.record(z.string(), ContextFileSchema) }).strict();
export type BuildContext = z.infer<typeof BuildContextSchema>;

export const ContextMissingRequestSchema = z.object({ digests: z.array(z.string()).max(100_000) }).strict();
export const ContextMissingResponseSchema = z.object({ missing: z.array(z.string()) });

export const BuildTemplateRequestFields = {
  spec: TemplateSpecSchema.optional(),
  context: BuildContextSchema.optional(),
  /** Rebuild every step even when the cache holds it. */
  no_cache: z.boolean().optional(),
  /**
   * mitos extension: the network posture the build steps run under (same shape as `network`),
   * so a RUN can reach a package registry while the template's sandboxes stay closed. Absent:
   * the template's own posture (`network`, else `spec.network`).
   */
  build_network: NetworkRequestSchema.optional(),
};

export const TemplateBuildStartedSchema = z.object({
  id: z.string(),
  status: z.literal('building'),
  /** Where the progress streams (NDJSON). */
  build_url: z.string(),
});

/** One line of `GET /v1/templates/{id}/build`. */
export const TemplateBuildEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('base'), image: z.string(), cached: z.boolean(), digest: z.string() }),
  z.object({
    type: z.literal('step'),
    step: z.number().int(),
    total: z.number().int(),
    kind: z.string(),
    label: z.string(),
    cached: z.boolean(),
    key: z.string(),
  }),
  z.object({ type: z.literal('log'), step: z.number().int(), stream: z.enum(['stdout', 'stderr']), line: z.string() }),
  z.object({ type: z.literal('step_done'), step: z.number().int(), cached: z.boolean(), duration_ms: z.number() }),
  z.object({ type: z.literal('done'), id: z.string(), digest: z.string(), duration_ms: z.number() }),
  z.object({
    type: z.literal('error'),
    /** The error envelope's body, as the route would have answered it. */
    error: ErrorEnvelopeSchema.shape.error,
  }),
]);
export type TemplateBuildEvent = z.infer<typeof TemplateBuildEventSchema>;

export const PruneResponseSchema = z.object({ removed: z.array(z.string()), kept: z.number().int() });

/** POST /v1/templates/{id}/push: export the template as an OCI image to `reference` (a tag). */
export const PushTemplateRequestSchema = z.object({ reference: z.string().min(1).max(512) }).strict();
export const PushTemplateResponseSchema = z.object({ reference: z.string() });
