/**
 * VibeKit (`@vibe-kit/sdk`): a sandbox provider named `mitos`, shaped like VibeKit's E2B and
 * Daytona providers (`create(envs, agentType, workingDirectory)`, `resume(id)`, instances
 * with `commands.run`, `kill`, `pause`, `getHost`). Fork is a mitos operation VibeKit's
 * interface lacks, so it is offered on the instance (`instance.fork(n)`), not forced into it.
 *
 * @example
 * import { VibeKit } from '@vibe-kit/sdk';
 * import { createMitosProvider } from '@mitos/integrations/vibekit';
 * const kit = new VibeKit()
 *   .withAgent({ type: 'claude', provider: 'anthropic', apiKey: process.env.ANTHROPIC_API_KEY!, model: 'claude-sonnet-4-5' })
 *   .withSandbox(createMitosProvider({ templateId: 'node' }));
 * console.log(await kit.executeCommand('node --version'));
 * @module
 */
import { type ClientOptions, Sandbox, SandboxServer } from '@mitos/sdk';
import type {
  AgentType,
  SandboxCommandOptions,
  SandboxExecutionResult,
  SandboxInstance,
  SandboxProvider,
} from '@vibe-kit/sdk';

export interface MitosProviderConfig extends ClientOptions {
  /** Template for new sandboxes (default `node`: the agent CLIs VibeKit runs are npm packages). */
  templateId?: string;
}

export class MitosSandboxInstance implements SandboxInstance {
  readonly #sandbox: Sandbox;
  readonly #env: Record<string, string>;

  constructor(sandbox: Sandbox, env: Record<string, string> = {}) {
    this.#sandbox = sandbox;
    this.#env = env;
  }

  get sandboxId(): string {
    return this.#sandbox.id;
  }

  /** The mitos handle, for what VibeKit's interface has no word for (fork, files, runCode). */
  get sandbox(): Sandbox {
    return this.#sandbox;
  }

  get commands() {
    return { run: (command: string, options?: SandboxCommandOptions) => this.#run(command, options) };
  }

  async #run(command: string, options: SandboxCommandOptions = {}): Promise<SandboxExecutionResult> {
    if (options.background) {
      const proc = await this.#sandbox.execBackground(command, {
        env: this.#env,
        onStdout: options.onStdout ? (b) => options.onStdout?.(new TextDecoder().decode(b)) : undefined,
        onStderr: options.onStderr ? (b) => options.onStderr?.(new TextDecoder().decode(b)) : undefined,
      });
      return { exitCode: 0, stdout: `started in the background as pid ${proc.pid}`, stderr: '' };
    }
    const decoder = { out: new TextDecoder(), err: new TextDecoder() };
    const result = await this.#sandbox.exec(command, {
      env: this.#env,
      // VibeKit speaks milliseconds; a command timeout here is whole seconds, rounded up.
      timeoutSeconds: options.timeoutMs === undefined ? undefined : Math.max(1, Math.ceil(options.timeoutMs / 1000)),
      onStdout: options.onStdout ? (b) => options.onStdout?.(decoder.out.decode(b, { stream: true })) : undefined,
      onStderr: options.onStderr ? (b) => options.onStderr?.(decoder.err.decode(b, { stream: true })) : undefined,
    });
    return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
  }

  kill(): Promise<void> {
    return this.#sandbox.terminate();
  }

  pause(): Promise<void> {
    return this.#sandbox.pause();
  }

  getHost(port: number): Promise<string> {
    return this.#sandbox.getHost(port);
  }

  /** mitos fork: `n` live copies, each a VibeKit instance with the same environment. */
  async fork(n = 1): Promise<MitosSandboxInstance[]> {
    return (await this.#sandbox.fork(n)).map((child) => new MitosSandboxInstance(child, this.#env));
  }
}

export class MitosSandboxProvider implements SandboxProvider {
  readonly #config: MitosProviderConfig;

  constructor(config: MitosProviderConfig = {}) {
    this.#config = config;
  }

  async create(
    envs?: Record<string, string>,
    _agentType?: AgentType,
    workingDirectory?: string,
  ): Promise<MitosSandboxInstance> {
    const server = SandboxServer.fromAuth(this.#config);
    const template = this.#config.templateId ?? 'node';
    await server.ensureTemplate(template);
    const sandbox = await server.fork(template);
    const instance = new MitosSandboxInstance(sandbox, envs ?? {});
    if (workingDirectory) {
      try {
        await sandbox.files.mkdir(workingDirectory);
      } catch (err) {
        await sandbox.terminate().catch(() => {});
        throw err;
      }
    }
    return instance;
  }

  async resume(sandboxId: string): Promise<MitosSandboxInstance> {
    const sandbox = await Sandbox.connect(sandboxId, this.#config);
    await sandbox.resume();
    return new MitosSandboxInstance(sandbox);
  }
}

export function createMitosProvider(config: MitosProviderConfig = {}): MitosSandboxProvider {
  return new MitosSandboxProvider(config);
}
