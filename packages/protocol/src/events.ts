/**
 * GET /v1/events (docs/api-extensions.md): the server's push channel, as server-sent events.
 * Each SSE message has `event: <type>` and one JSON `data:` line matching the schema for that
 * type. The first message is always a `snapshot`; after it, `sandbox` (created or changed),
 * `gone` (no longer live) and `usage` (periodic metering) keep a client's copy current. A
 * client that reconnects starts again from a fresh snapshot, so nothing needs replaying.
 */
import { z } from 'zod';
import { ForkCarriedSchema } from './wire.js';

/** GET /v1/sandboxes/{id} record, as pushed: the list fields plus state, lineage and deadline. */
export const SandboxDetailSchema = z
  .object({
    id: z.string(),
    template_id: z.string(),
    endpoint: z.string(),
    created_at: z.string(),
    fork_time_ms: z.number(),
    network: z.record(z.string(), z.unknown()),
    state: z.string(),
    hostname: z.string(),
    parent_id: z.string().nullable(),
    generation: z.number().int().min(0),
    deadline_unix: z.number().int().min(0),
    carried: ForkCarriedSchema.optional(),
  })
  .strict();
export type SandboxDetailWire = z.infer<typeof SandboxDetailSchema>;

/** One row of GET /v1/metering. */
export const UsageRowSchema = z
  .object({
    sandbox: z.string(),
    memory: z.object({ unique_bytes: z.number(), shared_bytes: z.number(), cgroup_bytes: z.number() }).strict(),
    disk: z.object({ exclusive_bytes: z.number(), shared_bytes: z.number() }).strict().nullable(),
    cpu_ns: z.number(),
    /** Bytes the sandbox sent out through its network link. */
    egress_bytes: z.number(),
  })
  .strict();
export type UsageRowWire = z.infer<typeof UsageRowSchema>;

export const SnapshotEventSchema = z.object({ sandboxes: z.array(SandboxDetailSchema) }).strict();
export const SandboxEventSchema = z.object({ sandbox: SandboxDetailSchema }).strict();
export const GoneEventSchema = z.object({ id: z.string() }).strict();
export const UsageEventSchema = z.object({ sandboxes: z.array(UsageRowSchema) }).strict();

/** Event name -> the schema of its `data` line. */
export const SERVER_EVENT_SCHEMAS = {
  snapshot: SnapshotEventSchema,
  sandbox: SandboxEventSchema,
  gone: GoneEventSchema,
  usage: UsageEventSchema,
} as const;

export type ServerEventType = keyof typeof SERVER_EVENT_SCHEMAS;
export type ServerEventData<T extends ServerEventType> = z.infer<(typeof SERVER_EVENT_SCHEMAS)[T]>;

/** Seconds between `usage` messages on an open event stream (sooner, at most once a second, after a change). */
export const EVENTS_USAGE_INTERVAL_SECONDS = 5;
