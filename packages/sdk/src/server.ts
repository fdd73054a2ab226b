/**
 * Direct control of a mitos server: health, templates, forks and the sandbox list
 * (wire-v1.md 6.3). `create()` is the one-liner built on top of it.
 * @module
 */
import type { TemplateSpec } from '@mitos/protocol';
import { newIdempotencyKey, newSandboxId } from '@mitos/protocol/client';
import { DEFAULT_BASE_URL, resolveConfig } from './config.js';
import { AgentRunError } from './errors.js';
import { HttpClient } from './http.js';
import { type Metering, toMetering } from './metering.js';
import {
  toSandboxInfo,
  toSandboxList,
  toTemplateInfo,
  toTemplateList,
  toWireLimits,
  toWireNetwork,
} from './records.js';
import { Sandbox } from './sandbox.js';
import type { TemplateBuildOptions } from './template.js';
import { buildOnServer } from './template-build.js';
import type {
  CallOptions,
  ClientOptions,
  HealthInfo,
  Network,
  ResourceLimits,
  SandboxInfo,
  TemplateInfo,
} from './types.js';
import { assertId, assertIdempotencyKey } from './validate.js';
import { WorkspaceClient } from './workspaces.js';

/** Control calls get the seed SDK's 60 s. */
const CONTROL_TIMEOUT_MS = 60_000;
/** The first build of a template may fetch and unpack a root filesystem, which takes minutes. */
const TEMPLATE_BUILD_TIMEOUT_MS = 600_000;

export interface TemplateOptions extends CallOptions {
  network?: Network;
  idempotencyKey?: string;
  /** Accepted by the wire for compatibility (default 5). */
  initWaitSeconds?: number;
}

export interface ForkOptions extends CallOptions {
  /** The new sandbox's id; generated (`sandbox-xxxxxxxx`) when omitted. */
  id?: string;
  /** Replays return the first fork's sandbox; generated when omitted. */
  idempotencyKey?: string;
  limits?: ResourceLimits;
  /** Bind the sandbox to this workspace: its head is hydrated into /workspace, terminate commits. */
  workspace?: string;
  /** This sandbox's network posture; the template's when omitted. */
  network?: Network;
  /** Env for everything the sandbox runs (a call's own env wins); its forks inherit it. */
  env?: Record<string, string>;
}

export class SandboxServer {
  readonly #http: HttpClient;
  /** Named, versioned /workspace trees on this server. */
  readonly workspaces: WorkspaceClient;

  /**
   * Talk to the server at `baseUrl` (default http://127.0.0.1:8080) with `apiKey`.
   * Unlike {@link SandboxServer.fromAuth} this never reads the environment.
   */
  constructor(opts: ClientOptions = {}) {
    this.#http = new HttpClient({
      baseUrl: opts.baseUrl || DEFAULT_BASE_URL,
      apiKey: opts.apiKey,
      timeoutMs: opts.timeoutMs,
    });
    this.workspaces = new WorkspaceClient(this.#http);
  }

  /**
   * Resolve missing options from MITOS_API_KEY, MITOS_BASE_URL and the credentials file.
   * @example const server = SandboxServer.fromAuth(); console.log(await server.health());
   */
  static fromAuth(opts: ClientOptions = {}): SandboxServer {
    const { baseUrl, apiKey } = resolveConfig(opts);
    return new SandboxServer({ baseUrl, apiKey, timeoutMs: opts.timeoutMs });
  }

  get baseUrl(): string {
    return this.#http.baseUrl;
  }

  async health(opts: CallOptions = {}): Promise<HealthInfo> {
    return (await this.#get('/v1/health', opts)) as HealthInfo;
  }

  async listTemplates(opts: CallOptions = {}): Promise<TemplateInfo[]> {
    return toTemplateList(await this.#get('/v1/templates', opts));
  }

  /** Create (or rebuild) template `id`. Creating an existing id succeeds (upsert). */
  async createTemplate(id: string, opts: TemplateOptions = {}): Promise<TemplateInfo> {
    assertId(id, 'template');
    if (opts.idempotencyKey !== undefined) assertIdempotencyKey(opts.idempotencyKey);
    const body: Record<string, unknown> = { id, init_wait_seconds: opts.initWaitSeconds ?? 5 };
    if (opts.network) body.network = toWireNetwork(opts.network);
    const raw = await this.#http.request<unknown>('POST', '/v1/templates', {
      body,
      idempotencyKey: opts.idempotencyKey,
      timeoutMs: this.#http.timeoutOr(TEMPLATE_BUILD_TIMEOUT_MS),
      signal: opts.signal,
    });
    return toTemplateInfo(raw, id);
  }

  /**
   * Build template `id` from a spec (`new Template()...toSpec()`): uploads the copy sources
   * the server lacks, then follows the build's progress to its digest.
   */
  buildTemplate(
    id: string,
    spec: TemplateSpec,
    options: TemplateBuildOptions & { contextDir?: string } = {},
  ): Promise<{ id: string; digest: string }> {
    assertId(id, 'template');
    return buildOnServer(this.#http, id, spec, { ...options, contextDir: options.contextDir ?? '.' });
  }

  /** Delete template `id` (its sandboxes keep running). */
  async deleteTemplate(id: string, opts: CallOptions = {}): Promise<void> {
    assertId(id, 'template');
    await this.#http.request('DELETE', `/v1/templates/${id}`, {
      timeoutMs: this.#http.timeoutOr(60_000),
      signal: opts.signal,
    });
  }

  /** Push template `id` to an OCI registry (`registry/name:tag`); `Template().fromImage(ref)` pulls it back. */
  async pushTemplate(id: string, reference: string, opts: CallOptions = {}): Promise<{ reference: string }> {
    assertId(id, 'template');
    return this.#http.request('POST', `/v1/templates/${id}/push`, {
      body: { reference },
      timeoutMs: this.#http.timeoutOr(30 * 60_000),
      signal: opts.signal,
    });
  }

  /** Remove cached build steps and images no template references. */
  async pruneTemplates(opts: CallOptions = {}): Promise<{ removed: string[]; kept: number }> {
    return this.#http.request('POST', '/v1/templates/prune', {
      body: {},
      timeoutMs: this.#http.timeoutOr(10 * 60_000),
      signal: opts.signal,
    });
  }

  /** Like createTemplate, but a 409 (the template already exists) counts as success. */
  async ensureTemplate(id: string, opts: TemplateOptions = {}): Promise<TemplateInfo> {
    try {
      return await this.createTemplate(id, opts);
    } catch (err) {
      if (err instanceof AgentRunError && err.status === 409) return toTemplateInfo({ id, ready: true });
      throw err;
    }
  }

  /**
   * Start a new sandbox from `template`. Always sends an Idempotency-Key, so retrying a
   * fork whose answer was lost returns the same sandbox instead of a second one.
   * @example const sb = await server.fork('python', { id: 'agent-1' });
   */
  async fork(template: string, opts: ForkOptions = {}): Promise<Sandbox> {
    assertId(template, 'template');
    const id = opts.id ?? newSandboxId();
    assertId(id, 'sandbox');
    const idempotencyKey = opts.idempotencyKey ?? newIdempotencyKey();
    assertIdempotencyKey(idempotencyKey);
    const body: Record<string, unknown> = { template, id };
    if (opts.limits) body.limits = toWireLimits(opts.limits);
    if (opts.workspace !== undefined) body.workspace = opts.workspace;
    if (opts.network) body.network = toWireNetwork(opts.network);
    if (opts.env) body.env = opts.env;
    const raw = await this.#http.request<unknown>('POST', '/v1/fork', {
      body,
      idempotencyKey,
      // Binding a workspace hydrates its head into the new sandbox.
      timeoutMs: this.#http.timeoutOr(opts.workspace === undefined ? CONTROL_TIMEOUT_MS : TEMPLATE_BUILD_TIMEOUT_MS),
      signal: opts.signal,
    });
    return new Sandbox(toSandboxInfo(raw, { id, templateId: template }), this.#http);
  }

  async listSandboxes(opts: CallOptions = {}): Promise<SandboxInfo[]> {
    return toSandboxList(await this.#get('/v1/sandboxes', opts));
  }

  /**
   * Memory, disk and CPU per sandbox, with copy-on-write data shared between forks counted
   * once (`GET /v1/metering`).
   * @example for (const s of (await server.metering()).sandboxes) console.log(s.sandbox, s.memory.uniqueBytes);
   */
  async metering(opts: CallOptions = {}): Promise<Metering> {
    return toMetering(await this.#get('/v1/metering', opts));
  }

  #get(path: string, opts: CallOptions): Promise<unknown> {
    return this.#http.request('GET', path, {
      timeoutMs: this.#http.timeoutOr(CONTROL_TIMEOUT_MS),
      signal: opts.signal,
    });
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `SandboxServer { baseUrl: '${this.baseUrl}', apiKey: ${this.#http.hasApiKey ? "'[REDACTED]'" : 'none'} }`;
  }
}
