/**
 * Builds a template from a SandboxTemplate spec: a base image, then each build step as untrusted
 * code inside a build sandbox of this engine (same isolation as any sandbox), each step's result
 * a read-only snapshot named by its chained cache key (templates/build/keys.ts). An unchanged
 * prefix is taken from the cache; the first changed step and every later one run.
 *
 * A failed step publishes nothing: the template row is written only at the end, and the build
 * sandbox is torn down whatever happens. Snapshots of the steps that did succeed stay in the
 * cache (a retry resumes there), until `prune` removes what no template references.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import {
  type BuildContext,
  type BuildStep,
  DENY_POSTURE,
  MitosError,
  type NetworkPosture,
  type TemplateBuildEvent,
} from '@mitos/protocol';
import type { ResourceLimits } from '../engine.js';
import type { SandboxRow, TemplateRow } from '../state/store.js';
import type { BuildStepStore, StepRecord, TemplateConfig } from '../state/template-config.js';
import { copiedFiles, copyTarget } from '../templates/build/context-paths.js';
import type { ContextStore } from '../templates/build/context-store.js';
import { chainKeys, stepLabel } from '../templates/build/keys.js';
import type { SandboxAgents } from './agents.js';
import type { DriverImages } from './driver.js';
import { blankRow } from './rows.js';

/** What a build starts from: an image in the store and the config it carries. */
export interface BuildBase {
  /** The name the spec gave (template id or OCI reference). */
  image: string;
  imageKey: string;
  /** Content digest the chain is keyed on. */
  digest: string;
  cached: boolean;
  env: Record<string, string>;
  workdir: string;
  user?: string;
  command?: string[];
  limits: ResourceLimits;
}

export interface StepBuildOptions {
  id: string;
  base: BuildBase;
  steps: readonly BuildStep[];
  context: BuildContext;
  args?: Record<string, string>;
  /** COPY --from: image key of each template a copy step reads from. */
  fromKeys?: Record<string, string>;
  noCache?: boolean;
  /** The posture RUN steps get (admitted by the caller); deny when absent. */
  network?: NetworkPosture;
  onEvent: (event: TemplateBuildEvent) => void;
  signal?: AbortSignal;
}

export interface StepBuildResult {
  imageKey: string;
  config: Omit<TemplateConfig, 'command' | 'ready'>;
}

export interface StepBuilderDeps {
  images: DriverImages;
  steps: BuildStepStore;
  context: ContextStore;
  agents: SandboxAgents;
  /** Launch a sandbox on the image `imageKey` (not listed to callers); resolves when it answers. */
  launch(row: SandboxRow, template: TemplateRow): Promise<unknown>;
  teardown(row: SandboxRow): Promise<void>;
}

/** A RUN step's time limit (a package install can be slow; a hung one must not hang the build). */
const RUN_TIMEOUT_MS = 30 * 60_000;
const TAIL_LINES = 20;
/** Build sandboxes: one core and 2 GiB, so a compiler fits but one build cannot take the host. */
const BUILD_LIMITS: ResourceLimits = { memoryBytes: 2 * 1024 * 1024 * 1024, pids: 1024, cpus: 1 };

const inflight = new Map<string, Promise<unknown>>();

export class StepBuilder {
  constructor(private readonly deps: StepBuilderDeps) {}

  /** Run (or take from cache) every step; concurrent builds of the same chain run it once. */
  async build(options: StepBuildOptions): Promise<StepBuildResult> {
    const keys = chainKeys(options.base.digest, options.steps, options.context, options.args, options.fromKeys);
    const chainId = keys.at(-1) ?? options.base.digest;
    // A second build of the same chain waits for the first, then finds every step cached.
    for (let running = inflight.get(chainId); running; running = inflight.get(chainId)) {
      await running.catch(() => {});
    }
    const work = this.run(options, keys);
    inflight.set(chainId, work);
    try {
      return await work;
    } finally {
      if (inflight.get(chainId) === work) inflight.delete(chainId);
    }
  }

  private async run(options: StepBuildOptions, keys: string[]): Promise<StepBuildResult> {
    const { base, steps, onEvent } = options;
    let state: Omit<StepRecord, 'key'> = {
      imageKey: base.imageKey,
      env: { ...base.env },
      workdir: base.workdir,
      ...(base.user ? { user: base.user } : {}),
    };
    let chainBroken = options.noCache === true;
    let sandbox: SandboxRow | undefined;
    try {
      for (const [i, step] of steps.entries()) {
        options.signal?.throwIfAborted();
        const key = keys[i] as string;
        const record = chainBroken ? undefined : this.deps.steps.get(key);
        const cached = record !== undefined && this.deps.images.has(record.imageKey);
        const event = { step: i + 1, total: steps.length, kind: step.type, label: stepLabel(step), key };
        onEvent({ type: 'step', ...event, cached });
        const started = performance.now();
        if (cached && record) {
          const { key: _k, ...rest } = record;
          state = rest;
        } else {
          chainBroken = true;
          if (step.type === 'run' || step.type === 'copy' || step.type === 'workdir') {
            sandbox ??= await this.launch(state.imageKey, options.id, options.network ?? DENY_POSTURE);
            await this.apply(sandbox.id, step, i + 1, state, options);
            await this.deps.images.commit(sandbox.id, key, options.noCache === true);
            state = { ...state, imageKey: key };
          }
          state = nextConfig(state, step);
          this.deps.steps.put({ key, ...state });
        }
        onEvent({ type: 'step_done', step: i + 1, cached, duration_ms: Math.round(performance.now() - started) });
      }
    } finally {
      if (sandbox) await this.deps.teardown(sandbox).catch(() => {});
    }
    return {
      imageKey: state.imageKey,
      config: {
        env: state.env,
        workdir: state.workdir,
        ...(state.user ? { user: state.user } : {}),
        steps: keys,
        baseDigest: base.digest,
        baseImage: base.imageKey,
      },
    };
  }

  private async launch(imageKey: string, templateId: string, network: NetworkPosture): Promise<SandboxRow> {
    const id = `build-${randomBytes(6).toString('hex')}`;
    const row = blankRow(id, templateId, BUILD_LIMITS);
    const template: TemplateRow = {
      id: templateId,
      image: imageKey,
      imageKey,
      ready: false,
      createdAt: new Date(),
      creationTimeMs: 0,
      network,
      limits: BUILD_LIMITS,
    };
    try {
      await this.deps.launch(row, template);
    } catch (err) {
      await this.deps.teardown(row).catch(() => {});
      throw err;
    }
    return row;
  }

  private async apply(
    sandboxId: string,
    step: BuildStep,
    n: number,
    state: Omit<StepRecord, 'key'>,
    options: StepBuildOptions,
  ): Promise<void> {
    if (step.type === 'run') return this.runStep(sandboxId, step.run, n, state, options);
    if (step.type === 'workdir') {
      const dir = posix.resolve(state.workdir, step.workdir);
      return this.runStep(sandboxId, `mkdir -p -- ${shellQuote(dir)}`, n, { ...state, workdir: '/' }, options);
    }
    if (step.type === 'copy' && step.from !== undefined) {
      return this.copyFrom(sandboxId, step, n, state, options);
    }
    if (step.type === 'copy') {
      const files = copiedFiles(options.context, step.source);
      if (files.length === 0) {
        throw new MitosError(
          'build_failed',
          `step ${n} (copy): nothing in the build context matches ${JSON.stringify(step.source)}`,
          { step: n, step_kind: 'copy' },
          { remediation: 'copy a path that exists in the build context directory' },
        );
      }
      const sourceIsDir = files.length > 1 || files[0]?.rel !== '';
      for (const file of files) {
        const target = copyTarget(step.dest, state.workdir, file, sourceIsDir);
        // Streamed from the blob: a large copy source never sits whole in server memory.
        await this.deps.agents.client(sandboxId).writeFile(target, this.deps.context.stream(file.sha256), file.mode);
      }
      // Copied files belong to the build's user, as Docker's COPY --chown would make them.
      if (state.user) {
        const targets = files.map((f) => shellQuote(copyTarget(step.dest, state.workdir, f, sourceIsDir))).join(' ');
        await this.runStep(
          sandboxId,
          `chown ${shellQuote(state.user)}: ${targets}`,
          n,
          { ...state, user: undefined },
          options,
        );
      }
    }
  }

  /** COPY --from: tar the path in a sandbox of the other image, untar it in the build sandbox. */
  private async copyFrom(
    sandboxId: string,
    step: Extract<BuildStep, { type: 'copy' }>,
    n: number,
    state: Omit<StepRecord, 'key'>,
    options: StepBuildOptions,
  ): Promise<void> {
    const imageKey = options.fromKeys?.[step.from as string] as string;
    const source = posix.resolve('/', step.source);
    const dest = posix.resolve(state.workdir, step.dest);
    // The reader only tars a path: it needs no network.
    const reader = await this.launch(imageKey, options.id, DENY_POSTURE);
    let packed: Buffer;
    let isDir: boolean;
    try {
      const q = shellQuote;
      isDir =
        (await this.deps.agents.exec(reader.id, { command: `test -d ${q(source)}`, timeoutMs: 30_000 })).exitCode === 0;
      const tar = isDir
        ? `tar -C ${q(source)} -cf - .`
        : `tar -C ${q(posix.dirname(source))} -cf - -- ${q(posix.basename(source))}`;
      const out = await this.deps.agents.exec(reader.id, { command: tar, timeoutMs: RUN_TIMEOUT_MS });
      if (out.exitCode !== 0) {
        throw new MitosError(
          'build_failed',
          `step ${n} (copy --from=${step.from}): cannot read ${source}: ${out.stderr.toString().trim()}`,
          { step: n, step_kind: 'copy', exit_code: out.exitCode },
          { remediation: 'copy a path that exists in the stage it names' },
        );
      }
      packed = out.stdout;
    } finally {
      await this.deps.teardown(reader).catch(() => {});
    }
    const q = shellQuote;
    const into = isDir || step.dest.endsWith('/') ? dest : '/tmp/.mitos-copy';
    let command = `mkdir -p ${q(into)} && tar -C ${q(into)} -xf -`;
    if (into !== dest) {
      command += ` && mkdir -p ${q(posix.dirname(dest))} && mv -f ${q(`${into}/${posix.basename(source)}`)} ${q(dest)} && rm -rf ${q(into)}`;
    }
    const writer = await this.deps.agents.startProcess(sandboxId, { command, stdin: true, timeoutMs: RUN_TIMEOUT_MS });
    writer.write(packed);
    writer.closeStdin();
    const result = await writer.wait();
    if (result.exitCode !== 0) {
      throw new MitosError(
        'build_failed',
        `step ${n} (copy --from=${step.from}) could not unpack into ${dest}: ${result.stderr.toString().trim()}`,
        { step: n, step_kind: 'copy', exit_code: result.exitCode },
      );
    }
  }

  private async runStep(
    sandboxId: string,
    command: string,
    n: number,
    state: Omit<StepRecord, 'key'>,
    options: StepBuildOptions,
  ): Promise<void> {
    const tail: string[] = [];
    const lines = (stream: 'stdout' | 'stderr') => {
      let partial = '';
      return (chunk: Buffer) => {
        const parts = (partial + chunk.toString('utf8')).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) {
          tail.push(line);
          if (tail.length > TAIL_LINES) tail.shift();
          options.onEvent({ type: 'log', step: n, stream, line });
        }
      };
    };
    const asUser = state.user ? `exec runuser -u ${shellQuote(state.user)} -- sh -c ${shellQuote(command)}` : command;
    const result = await this.deps.agents.exec(sandboxId, {
      command: asUser,
      cwd: state.workdir,
      env: state.env,
      timeoutMs: RUN_TIMEOUT_MS,
      onStdout: lines('stdout'),
      onStderr: lines('stderr'),
      signal: options.signal,
    });
    if (result.exitCode !== 0) {
      const why = result.timedOut ? `timed out after ${RUN_TIMEOUT_MS / 60_000} min` : `exited with ${result.exitCode}`;
      throw new MitosError(
        'build_failed',
        `step ${n}/${options.steps.length} (run) ${why}: ${command}\n${tail.join('\n')}`,
        { step: n, step_kind: 'run', exit_code: result.exitCode, last_lines: tail.join('\n') },
        { remediation: 'fix the command of the step named in context.step; its last output lines are in the cause' },
      );
    }
  }
}

/** The config after a step (env, workdir and user steps change it; run and copy do not). */
function nextConfig(state: Omit<StepRecord, 'key'>, step: BuildStep): Omit<StepRecord, 'key'> {
  if (step.type === 'env') return { ...state, env: { ...state.env, [step.envName]: step.envValue } };
  if (step.type === 'workdir') return { ...state, workdir: posix.resolve(state.workdir, step.workdir) };
  if (step.type === 'user')
    return { ...state, user: step.user === 'root' || step.user === '0' ? undefined : step.user };
  return state;
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
