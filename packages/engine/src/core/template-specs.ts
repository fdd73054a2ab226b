/**
 * Templates built from a spec (templates as code): resolve the base, run the steps (StepBuilder),
 * publish the template row; delete a template; prune what no template references.
 */
import { DENY_POSTURE, MitosError, type NetworkPosture, type TemplateSpec } from '@mitos/protocol';
import type {
  BuildTemplateOptions,
  ImagePuller,
  ImagePusher,
  ImportLayoutOptions,
  OciTools,
  ResourceLimits,
  TemplateBuildService,
  TemplateInfo,
} from '../engine.js';
import type { StateDatabase } from '../state/database.js';
import type { SandboxRow, StateStore, TemplateRow } from '../state/store.js';
import type { TemplateConfig } from '../state/template-config.js';
import { BuildStepStore } from '../state/template-config.js';
import { checkContext } from '../templates/build/context-paths.js';
import type { ContextStore } from '../templates/build/context-store.js';
import { parseCpu, parseMemory } from '../templates/build/quantity.js';
import { IMAGES, type ImageName } from '../templates/images.js';
import type { SandboxAgents } from './agents.js';
import type { DriverImages, SandboxDriver } from './driver.js';
import { admitted } from './network.js';
import { assertValidId, publicTemplate } from './rows.js';
import { type BuildBase, StepBuilder } from './template-build.js';

export interface TemplateSpecDeps {
  store: StateStore;
  steps: BuildStepStore;
  driver: SandboxDriver;
  builder: StepBuilder | undefined;
  context: ContextStore | undefined;
  pull?: ImagePuller;
  push?: ImagePusher;
  chainsOf?: (imageKey: string) => string[];
  pack?: OciTools['pack'];
  unpack?: OciTools['unpack'];
  /** After a template row changes: drop its pooled sandboxes and cached config, refill. */
  published(row: TemplateRow): Promise<void>;
  /** Drain pooled sandboxes of a deleted template. */
  deleted(id: string): Promise<void>;
}

/** The working directory of built-in templates' commands (the agent's default). */
const DEFAULT_WORKDIR = '/workspace';

export class TemplateSpecs implements TemplateBuildService {
  constructor(private readonly deps: TemplateSpecDeps) {}

  get context(): ContextStore | undefined {
    return this.deps.context;
  }

  private images(): DriverImages {
    const images = this.deps.driver.images;
    if (!images || !this.deps.builder) {
      throw new MitosError(
        'host_unsupported',
        `the ${this.deps.driver.name} driver cannot build templates from a spec on this storage`,
        {},
        { remediation: 'run the server with btrfs storage (`mitos doctor` says which storage is in use)' },
      );
    }
    return images;
  }

  async build(options: BuildTemplateOptions): Promise<TemplateInfo> {
    return publicTemplate(await this.buildRow(options));
  }

  check(options: BuildTemplateOptions): void {
    this.admit(options);
  }

  /** Both postures are refused before anything is made when this host cannot enforce them. */
  private admit(options: BuildTemplateOptions): { network: NetworkPosture; buildNetwork: NetworkPosture } {
    assertValidId('template', options.id);
    this.images();
    checkContext(options.context ?? { files: {} });
    const network = admitted(this.deps.driver, options.network ?? DENY_POSTURE);
    return { network, buildNetwork: admitted(this.deps.driver, options.buildNetwork ?? network) };
  }

  private async buildRow(options: BuildTemplateOptions): Promise<TemplateRow> {
    const started = performance.now();
    const { network, buildNetwork } = this.admit(options);
    const context = options.context ?? { files: {} };
    const onEvent = options.onEvent ?? (() => {});
    const base = await this.resolveBase(options.spec.image, (line) =>
      onEvent({ type: 'log', step: 0, stream: 'stdout', line }),
    );
    onEvent({ type: 'base', image: options.spec.image, cached: base.cached, digest: base.digest });
    const fromKeys: Record<string, string> = {};
    for (const step of options.spec.buildSteps ?? []) {
      if (step.type !== 'copy' || step.from === undefined) continue;
      const from = this.deps.store.template(step.from);
      if (!from) {
        throw new MitosError(
          'invalid_request',
          `copy --from names template "${step.from}", which does not exist`,
          {},
          {
            remediation:
              'build the stage it names first (mitos template build -f does this for a multi-stage Dockerfile)',
          },
        );
      }
      fromKeys[step.from] = from.imageKey;
    }
    const result = await (this.deps.builder as StepBuilder).build({
      id: options.id,
      base,
      steps: options.spec.buildSteps ?? [],
      context,
      args: options.args,
      fromKeys,
      noCache: options.noCache,
      network: buildNetwork,
      onEvent,
      signal: options.signal,
    });
    const env = { ...result.config.env };
    for (const e of options.spec.env ?? []) env[e.name] = e.value ?? '';
    const command = options.spec.command?.length ? options.spec.command : base.command;
    const config: TemplateConfig = {
      ...result.config,
      env,
      ...(command?.length ? { command } : {}),
      ...(options.spec.ready ? { ready: options.spec.ready } : {}),
    };
    const row: TemplateRow = {
      id: options.id,
      image: options.spec.image,
      imageKey: result.imageKey,
      ready: true,
      createdAt: new Date(),
      creationTimeMs: performance.now() - started,
      network,
      limits: specLimits(base.limits, options.spec),
      config,
    };
    this.deps.store.upsertTemplate(row);
    await this.deps.published(row);
    onEvent({ type: 'done', id: row.id, digest: row.imageKey, duration_ms: Math.round(row.creationTimeMs) });
    return row;
  }

  /** A template id on this server, a built-in image name, or an OCI reference. */
  private async resolveBase(image: string, onLine: (line: string) => void): Promise<BuildBase> {
    const existing = this.deps.store.template(image);
    if (existing) {
      const c = existing.config;
      return {
        image,
        imageKey: existing.imageKey,
        digest: existing.imageKey,
        cached: true,
        env: { ...(c?.env ?? {}) },
        workdir: c?.workdir ?? DEFAULT_WORKDIR,
        ...(c?.user ? { user: c.user } : {}),
        ...(c?.command ? { command: c.command } : {}),
        limits: existing.limits,
      };
    }
    if (Object.hasOwn(IMAGES, image)) {
      const spec = IMAGES[image as ImageName];
      const key = await this.deps.driver.prepareTemplate(image, spec, onLine);
      return {
        image,
        imageKey: key,
        digest: key,
        cached: true,
        env: {},
        workdir: DEFAULT_WORKDIR,
        limits: spec.limits,
      };
    }
    if (!this.deps.pull) {
      throw new MitosError(
        'not_implemented',
        `image ${JSON.stringify(image)} is neither a template on this server nor a built-in (python, node, base), and this server cannot pull OCI images`,
        { image },
        {
          remediation: 'install skopeo and umoci (node scripts/setup.mjs does), or build from an existing template id',
        },
      );
    }
    const pulled = await this.deps.pull(image, onLine);
    return {
      image,
      imageKey: pulled.imageKey,
      digest: pulled.digest,
      cached: pulled.cached,
      env: pulled.env,
      workdir: pulled.workdir || '/',
      ...(pulled.user ? { user: pulled.user } : {}),
      ...(pulled.command ? { command: pulled.command } : {}),
      limits: IMAGES.base.limits,
    };
  }

  async delete(id: string): Promise<boolean> {
    if (!this.deps.store.template(id)) return false;
    this.deps.store.deleteTemplate(id);
    await this.deps.deleted(id);
    return true;
  }

  async push(id: string, reference: string, onLine: (line: string) => void = () => {}): Promise<{ reference: string }> {
    const images = this.images();
    const row = this.deps.store.template(id);
    if (!row) throw new MitosError('not_found', `template "${id}" not found`);
    if (!this.deps.push) {
      throw new MitosError(
        'not_implemented',
        'this server cannot push OCI images',
        {},
        {
          remediation: 'install skopeo and umoci (node scripts/setup.mjs does)',
        },
      );
    }
    return { reference: await this.deps.push(images.path(row.imageKey), row.config, reference, onLine) };
  }

  async exportLayout(
    id: string,
    layout: string,
    onLine: (line: string) => void = () => {},
  ): Promise<{ digest: string }> {
    const images = this.images();
    const row = this.deps.store.template(id);
    if (!row) throw new MitosError('not_found', `template "${id}" not found`);
    if (!this.deps.pack) throw ociToolsMissing('export templates');
    return { digest: await this.deps.pack(images.path(row.imageKey), row.config, layout, onLine) };
  }

  /** The row a build of the same spec would publish, from the exported image instead of steps. */
  async importLayout(options: ImportLayoutOptions): Promise<TemplateInfo> {
    const started = performance.now();
    assertValidId('template', options.id);
    this.images();
    const network = admitted(this.deps.driver, options.network ?? DENY_POSTURE);
    if (!this.deps.unpack) throw ociToolsMissing('import templates');
    const image = await this.deps.unpack(options.layout, options.name, options.id, options.onLine ?? (() => {}));
    const row: TemplateRow = {
      id: options.id,
      image: options.spec?.image ?? options.id,
      imageKey: image.imageKey,
      ready: true,
      createdAt: new Date(),
      creationTimeMs: performance.now() - started,
      network,
      limits: options.spec ? specLimits(IMAGES.base.limits, options.spec) : IMAGES.base.limits,
      config: {
        env: image.env,
        workdir: image.workdir || DEFAULT_WORKDIR,
        ...(image.user ? { user: image.user } : {}),
        ...(image.command ? { command: image.command } : {}),
        ...(options.spec?.ready ? { ready: options.spec.ready } : {}),
        steps: [],
        baseDigest: image.imageKey,
      },
    };
    this.deps.store.upsertTemplate(row);
    await this.deps.published(row);
    return publicTemplate(row);
  }

  /**
   * Remove build-step snapshots and images no template references (a template keeps its own
   * image and every step of its chain, so a rebuild of it stays cached).
   */
  async prune(): Promise<{ removed: string[]; kept: number }> {
    const images = this.images();
    this.deps.context?.dropPartials();
    const keep = new Set<string>();
    const keepSteps = new Set<string>();
    for (const t of this.deps.store.templates()) {
      keep.add(t.imageKey);
      for (const key of t.config?.steps ?? []) keepSteps.add(key);
      if (t.config?.baseDigest) keep.add(t.config.baseDigest);
      if (t.config?.baseImage) keep.add(t.config.baseImage);
    }
    for (const record of this.deps.steps.all()) {
      if (keepSteps.has(record.key)) keep.add(record.imageKey);
      else this.deps.steps.delete(record.key);
    }
    // The unpacked layer chains of a pulled image kept, so the next image on that base shares them.
    const present = new Set(images.list());
    for (const key of [...keep])
      if (present.has(key)) for (const chain of this.deps.chainsOf?.(key) ?? []) keep.add(chain);
    const removed: string[] = [];
    for (const key of images.list()) {
      if (keep.has(key)) continue;
      try {
        await images.remove(key);
      } catch (err) {
        // Still the lower layer of live sandboxes (overlay roots): kept until they are gone.
        if (err instanceof MitosError && err.code === 'conflict') continue;
        throw err;
      }
      removed.push(key);
    }
    return { removed, kept: keep.size };
  }
}

function ociToolsMissing(what: string): MitosError {
  return new MitosError(
    'not_implemented',
    `this server cannot ${what} (no skopeo/umoci)`,
    {},
    { remediation: 'install skopeo and umoci (node scripts/setup.mjs does)' },
  );
}

function specLimits(base: ResourceLimits, spec: TemplateSpec): ResourceLimits {
  const limits = { ...base };
  if (spec.resources?.cpu !== undefined) limits.cpus = parseCpu(spec.resources.cpu);
  if (spec.resources?.memory !== undefined) limits.memoryBytes = parseMemory(spec.resources.memory);
  return limits;
}

/** Wire the spec builder to a host's parts (no builder when the driver has no image store). */
export function templateSpecsFor(parts: {
  db: StateDatabase;
  store: StateStore;
  driver: SandboxDriver;
  agents: SandboxAgents;
  context: ContextStore | undefined;
  pull?: ImagePuller;
  push?: ImagePusher;
  chainsOf?: (imageKey: string) => string[];
  pack?: OciTools['pack'];
  unpack?: OciTools['unpack'];
  teardown(row: SandboxRow): Promise<void>;
  published(row: TemplateRow): Promise<void>;
  deleted(id: string): Promise<void>;
}): TemplateSpecs {
  const steps = new BuildStepStore(parts.db);
  const { images } = parts.driver;
  const builder =
    images && parts.context
      ? new StepBuilder({
          images,
          steps,
          context: parts.context,
          agents: parts.agents,
          launch: (row, template) => parts.driver.launch(row, template),
          teardown: parts.teardown,
        })
      : undefined;
  return new TemplateSpecs({ ...parts, steps, builder });
}
