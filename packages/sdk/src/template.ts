/**
 * Templates as code: a fluent builder in the seed's shape (crd-v1.md 13.1) whose `toSpec()` is
 * the SandboxTemplate spec, plus `build()` which uploads the copy sources the server lacks and
 * follows the build's progress.
 * @module
 */
import type { BuildStep, NetworkRequestBody, ReadyCheck, TemplateBuildEvent, TemplateSpec } from '@mitos/protocol';
import { dockerfileTemplates, parseDockerfile } from './dockerfile.js';
import { shellSplit } from './shell-words.js';
import type { SignalLike } from './signals.js';

export { shellSplit };

export type TemplateSpecObject = TemplateSpec;

export interface TemplateBuildOptions {
  /** Called with each build log line (the command output of run steps, pull progress). */
  onLogs?: (line: string) => void;
  /** Every progress event (step n/N, cached or run, durations, the final digest). */
  onEvent?: (event: TemplateBuildEvent) => void;
  signal?: SignalLike;
  /** Rebuild every step even when the server's cache holds it. */
  noCache?: boolean;
  /** Directory copy sources are relative to; default the Dockerfile's directory or the cwd. */
  contextDir?: string;
  /** The template's runtime network posture (wire-v1.md 4.2 shape); deny both ways when absent. */
  network?: NetworkRequestBody;
  /**
   * The posture the build steps run under, e.g. `{ allow_cidrs: ['10.0.0.5/32:443'] }` for a
   * package mirror; the template's `network` when absent.
   */
  buildNetwork?: NetworkRequestBody;
  /** Server to build on; default `SandboxServer.fromAuth()`. */
  server?: { buildTemplate: BuildOnServer };
}

export type BuildOnServer = (
  id: string,
  spec: TemplateSpec,
  options: TemplateBuildOptions & { contextDir: string },
) => Promise<{ id: string; digest: string }>;

export class Template {
  #image: string | undefined;
  #steps: BuildStep[] = [];
  #command: string[] | undefined;
  #ready: ReadyCheck | undefined;
  #cpu: string | undefined;
  #memory: string | undefined;
  #contextDir: string | undefined;
  /** A multi-stage Dockerfile: its stages get template ids only once build() names the template. */
  #dockerfile: { path: string; buildArgs: Record<string, string>; fileSteps: number } | undefined;

  /** Base: an OCI reference (`python:3.12-slim`) or a template id on the server (`python`). */
  fromImage(image: string): this {
    this.#image = image;
    return this;
  }

  /**
   * A Dockerfile (its path; its directory becomes the default build context). A multi-stage one
   * builds each earlier stage as its own template `<id>-stage-<name>` first; steps added after
   * this call extend the last stage.
   */
  fromDockerfile(path: string, options: { buildArgs?: Record<string, string> } = {}): this {
    const parsed = parseDockerfile(path, options);
    const spec = parsed.stages.at(-1)?.spec as TemplateSpec;
    this.#image = spec.image;
    this.#steps = [...(spec.buildSteps ?? [])];
    this.#command = spec.command;
    this.#contextDir = parsed.contextDir;
    this.#dockerfile =
      parsed.stages.length > 1
        ? { path, buildArgs: options.buildArgs ?? {}, fileSteps: this.#steps.length }
        : undefined;
    return this;
  }

  run(command: string): this {
    this.#steps.push({ type: 'run', run: command });
    return this;
  }

  /** Alias of run (E2B's name). */
  runCmd(command: string): this {
    return this.run(command);
  }

  env(name: string, value: string): this {
    this.#steps.push({ type: 'env', envName: name, envValue: value });
    return this;
  }

  workdir(path: string): this {
    this.#steps.push({ type: 'workdir', workdir: path });
    return this;
  }

  /** Copy `source` (relative to the build context directory) to `dest` in the image. */
  copy(source: string, dest: string): this {
    this.#steps.push({ type: 'copy', source, dest });
    return this;
  }

  /** Later steps and the sandbox's commands run as this user (Dockerfile USER). */
  user(name: string): this {
    this.#steps.push({ type: 'user', user: name });
    return this;
  }

  /** Start command: a string is shell-word split, an array taken as is. */
  setStart(command: string | string[]): this {
    this.#command = typeof command === 'string' ? shellSplit(command) : [...command];
    return this;
  }

  /** What gates a sandbox as ready: a command that exits 0, or a TCP port that accepts. */
  setReady(check: string | { port: number; timeoutMs?: number } | { command: string; timeoutMs?: number }): this {
    this.#ready = typeof check === 'string' ? { command: check } : { ...check };
    return this;
  }

  cpu(quantity: string | number): this {
    this.#cpu = String(quantity);
    return this;
  }

  memory(quantity: string): this {
    this.#memory = quantity;
    return this;
  }

  /** The SandboxTemplate spec (throws when no base image was set). */
  toSpec(): TemplateSpec {
    if (this.#dockerfile) {
      throw new Error(
        `${this.#dockerfile.path} has several stages, each its own template: use toSpecs(id) or build(id)`,
      );
    }
    return this.#spec(this.#image, this.#steps);
  }

  /**
   * Every template this one builds as `id`, in order: the earlier stages of a multi-stage
   * Dockerfile (as `<id>-stage-<name>`), then `id` itself.
   */
  toSpecs(id: string): Array<{ id: string; spec: TemplateSpec }> {
    if (!this.#dockerfile) return [{ id, spec: this.toSpec() }];
    const { path, buildArgs, fileSteps } = this.#dockerfile;
    const { builds } = dockerfileTemplates(path, id, { buildArgs, contextDir: this.#contextDir });
    const last = builds.pop() as { id: string; spec: TemplateSpec };
    const steps = [...(last.spec.buildSteps ?? []), ...this.#steps.slice(fileSteps)];
    return [...builds, { id, spec: this.#spec(last.spec.image, steps) }];
  }

  #spec(image: string | undefined, steps: BuildStep[]): TemplateSpec {
    if (!image) throw new Error('a template needs a base image: call fromImage() first');
    const spec: TemplateSpec = { image };
    if (steps.length > 0) spec.buildSteps = steps.map((s) => ({ ...s }));
    if (this.#command && this.#command.length > 0) spec.command = [...this.#command];
    if (this.#cpu !== undefined || this.#memory !== undefined) {
      spec.resources = {
        ...(this.#cpu !== undefined ? { cpu: this.#cpu } : {}),
        ...(this.#memory !== undefined ? { memory: this.#memory } : {}),
      };
    }
    if (this.#ready) spec.ready = { ...this.#ready };
    return spec;
  }

  /** The spec wrapped as a Kubernetes object, to apply to a cluster. */
  toTemplate(name: string): {
    apiVersion: 'mitos.run/v1alpha1';
    kind: 'SandboxTemplate';
    metadata: { name: string };
    spec: TemplateSpec;
  } {
    return { apiVersion: 'mitos.run/v1alpha1', kind: 'SandboxTemplate', metadata: { name }, spec: this.toSpec() };
  }

  /** Build it on a server as template `id`; resolves with its digest when the build is done. */
  async build(id: string, options: TemplateBuildOptions = {}): Promise<{ id: string; digest: string }> {
    const builds = this.toSpecs(id);
    const server = options.server ?? (await import('./server.js')).SandboxServer.fromAuth();
    const contextDir = options.contextDir ?? this.#contextDir ?? '.';
    let result: { id: string; digest: string } | undefined;
    for (const build of builds) result = await server.buildTemplate(build.id, build.spec, { ...options, contextDir });
    return result as { id: string; digest: string };
  }
}
