/**
 * Request bodies of the seed's run_code, set_timeout, pause/resume, preview and forward routes
 * and of the mitos extensions (docs/api-extensions.md). Loose like wire.ts: unknown fields are
 * ignored.
 */
import { z } from 'zod';

const Env = z.record(z.string(), z.string());
const Port = z.number().int().min(1).max(65_535);

export const SandboxRequestSchema = z.object({ sandbox: z.string() }).loose();

export const RunCodeRequestSchema = z
  .object({
    sandbox: z.string(),
    code: z.string(),
    language: z.string().optional(),
    timeout: z.number().int().min(0).optional(),
  })
  .loose();

/** Sign and ceiling are checked by the route, in the seed's order and with its codes. */
export const SetTimeoutRequestSchema = z.object({ sandbox: z.string(), timeout_seconds: z.number().int() }).loose();

export const PreviewRequestSchema = z.object({ sandbox: z.string(), port: Port }).loose();

export const ForwardRequestSchema = z.object({ guest_port: Port, open: z.boolean().optional() }).loose();

/**
 * Whether a live fork carries the parent's running processes: `all` (every process, or the
 * fork fails), `none` (files and interpreter state only), `auto` (every process when the
 * parent runs any beyond its agent, else files and interpreter state). Omitted: every process on an engine that
 * copies the whole machine; on the linux engine, whose carried fork is a slower CRIU
 * checkpoint and restore, files and interpreter state. Each process a child lacks is named
 * in the report, and each connection to outside closed in the children (`connections_closed`).
 */
export const ForkProcessesMode = z.enum(['all', 'none', 'auto']);
export type ForkProcessesMode = z.infer<typeof ForkProcessesMode>;

/**
 * Two bodies: ours (`count`, `ids`) and the one the 0.3.x clients send for each child of
 * `fork(n)` (`id`, `template`, `pause_source`); the route refuses a mix.
 */
export const LiveForkRequestSchema = z
  .object({
    count: z.number().int().min(1).max(64).optional(),
    ids: z.array(z.string()).min(1).max(64).optional(),
    id: z.string().optional(),
    template: z.string().optional(),
    pause_source: z.boolean().optional(),
    processes: ForkProcessesMode.optional(),
  })
  .loose();

export const StartProcessRequestSchema = z
  .object({
    sandbox: z.string(),
    command: z.string().min(1),
    working_dir: z.string().optional(),
    env: Env.optional(),
  })
  .loose();

export const SignalProcessRequestSchema = z
  .object({
    sandbox: z.string(),
    pid: z.number().int().min(1),
    signal: z.number().int().min(1).max(64).optional(),
  })
  .loose();

export const ProcessStreamRequestSchema = z
  .object({
    sandbox: z.string(),
    pid: z.number().int().min(1),
    /**
     * false: replay the output kept so far (and the exit, if it has exited) and end the
     * stream instead of following it live. Default true.
     */
    follow: z.boolean().optional(),
  })
  .loose();
