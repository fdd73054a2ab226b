/**
 * Templates as code: a fluent builder in the seed's shape (crd-v1.md 13.1) whose `toSpec()` is
 * the SandboxTemplate spec, plus `build()` which uploads the copy sources the server lacks and
 * follows the build's progress.
 * @module
 */
import type { BuildStep, ReadyCheck, TemplateBuildEvent, TemplateSpec } from '@mitos/protocol';
import { parseDockerfile } from './dockerfile.js';
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

  /** Base: an OCI reference (`python:3.12-slim`) or a template id on the server (`python`). */
  fromImage(image: string): this {
    this.#image = image;
    return this;
  }

  /** A Dockerfile (its path; its directory becomes the default build context). */
  fromDockerfile(path: string): this {
    const parsed = parseDockerfile(path);
    if (parsed.stages.length > 1) {
      throw new Error(
        `${path}: multi-stage Dockerfiles build with \`mitos template build -f\` (stage ${parsed.stages[0]?.name} needs its own template)`,
      );
    }
    const spec = parsed.stages[0]?.spec as TemplateSpec;
    this.#image = spec.image;
    this.#steps = [...(spec.buildSteps ?? [])];
    this.#command = spec.command;
    this.#contextDir = parsed.contextDir;
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
    if (!this.#image) throw new Error('a template needs a base image: call fromImage() first');
    const spec: TemplateSpec = { image: this.#image };
    if (this.#steps.length > 0) spec.buildSteps = this.#steps.map((s) => ({ ...s }));
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
    const spec = this.toSpec();
    const server = options.server ?? (await import('./server.js')).SandboxServer.fromAuth();
    return server.buildTemplate(id, spec, { ...options, contextDir: options.contextDir ?? this.#contextDir ?? '.' });
  }
}
