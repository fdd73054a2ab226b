/**
 * ComputeSDK: a provider named `mitos`, defined with `@computesdk/provider`'s `defineProvider`
 * like its E2B and Daytona providers, so ComputeSDK code (and its benchmark) can run on mitos
 * beside hosted sandboxes. The native instance (`sandbox.getInstance()`) is the mitos
 * `Sandbox`, which is where fork lives: ComputeSDK's interface has no fork.
 *
 * @example
 * import { mitos } from '@mitos/integrations/computesdk';
 * const provider = mitos({ baseUrl: 'http://127.0.0.1:8080' });
 * const sandbox = await provider.sandbox.create({ templateId: 'python' });
 * console.log((await sandbox.runCommand('python3 --version')).stdout);
 * const [child] = await sandbox.getInstance().fork(1);
 * await sandbox.destroy();
 * @module
 */
import type { CommandResult, CreateSandboxOptions, RunCommandOptions } from '@computesdk/provider';
import { defineProvider } from '@computesdk/provider';
import { AgentRunError, type ClientOptions, Sandbox, SandboxServer } from '@mitos/sdk';

export interface MitosComputeConfig extends ClientOptions {
  /** Template when `create()` names none (default `python`). */
  templateId?: string;
}

/** Create options we honour; anything else set is refused rather than silently dropped. */
const SUPPORTED_CREATE_OPTIONS = new Set(['templateId', 'timeout', 'envs', 'directory', 'signal', 'provider']);
/** Environment given at create time, applied to every command of that sandbox. */
const createEnv = new WeakMap<Sandbox, Record<string, string>>();

async function create(config: MitosComputeConfig, options: CreateSandboxOptions = {}) {
  const unsupported = Object.entries(options)
    .filter(([k, v]) => v !== undefined && !SUPPORTED_CREATE_OPTIONS.has(k))
    .map(([k]) => k);
  if (unsupported.length > 0) {
    throw new AgentRunError({
      code: 'not_implemented',
      message: 'this operation is not available on this server',
      cause: `the mitos provider does not support create option(s) ${unsupported.join(', ')}`,
      remediation: 'leave them unset; use templateId, timeout, envs or directory',
      context: { fields: unsupported.join(',') },
    });
  }
  const server = SandboxServer.fromAuth(config);
  const template = options.templateId ?? config.templateId ?? 'python';
  await server.ensureTemplate(template, { signal: options.signal });
  const sandbox = await server.fork(template, { signal: options.signal });
  try {
    // ComputeSDK timeouts are milliseconds; a mitos lifetime is whole seconds, rounded up.
    if (options.timeout) await sandbox.setTimeout(Math.ceil(options.timeout / 1000), { signal: options.signal });
    if (options.directory) await sandbox.files.mkdir(options.directory, { signal: options.signal });
  } catch (err) {
    await sandbox.terminate().catch(() => {});
    throw err;
  }
  if (options.envs) createEnv.set(sandbox, options.envs);
  return { sandbox, sandboxId: sandbox.id };
}

async function runCommand(sandbox: Sandbox, command: string, options: RunCommandOptions = {}): Promise<CommandResult> {
  const env = { ...createEnv.get(sandbox), ...options.env };
  if (options.background) {
    const proc = await sandbox.execBackground(command, { env, cwd: options.cwd });
    return { stdout: `started in the background as pid ${proc.pid}`, stderr: '', exitCode: 0, durationMs: 0 };
  }
  const started = performance.now();
  const decoder = { out: new TextDecoder(), err: new TextDecoder() };
  const result = await sandbox.exec(command, {
    env,
    cwd: options.cwd,
    timeoutSeconds: options.timeout ? Math.ceil(options.timeout / 1000) : undefined,
    onStdout: options.onStdout ? (b) => options.onStdout?.(decoder.out.decode(b, { stream: true })) : undefined,
    onStderr: options.onStderr ? (b) => options.onStderr?.(decoder.err.decode(b, { stream: true })) : undefined,
  });
  return {
    stdout: result.stdout,
    stderr: result.stderr,
    exitCode: result.exitCode,
    durationMs: performance.now() - started,
  };
}

async function getById(config: MitosComputeConfig, sandboxId: string) {
  try {
    return { sandbox: await Sandbox.connect(sandboxId, config), sandboxId };
  } catch (err) {
    if (err instanceof AgentRunError && err.code === 'not_found') return null;
    throw err;
  }
}

export const mitos = defineProvider<Sandbox, MitosComputeConfig>({
  name: 'mitos',
  methods: {
    sandbox: {
      create,
      getById,
      list: async (config) => {
        const infos = await SandboxServer.fromAuth(config).listSandboxes();
        const found = await Promise.all(infos.map((info) => getById(config, info.id)));
        return found.filter((f) => f !== null);
      },
      destroy: async (config, sandboxId) => {
        const found = await getById(config, sandboxId);
        await found?.sandbox.terminate();
      },
      runCommand,
      streamCommand: runCommand,
      getInfo: async (sandbox) => {
        const info = await sandbox.info();
        return {
          id: sandbox.id,
          provider: 'mitos',
          status: info.state === 'running' ? 'running' : 'stopped',
          createdAt: info.createdAt ? new Date(info.createdAt) : new Date(0),
          timeout: info.deadline ? Math.max(0, info.deadline.getTime() - Date.now()) : 0,
          metadata: { templateId: sandbox.templateId, parentId: info.parentId },
        };
      },
      getUrl: (sandbox, { port }) => sandbox.getHost(port),
      getInstance: (sandbox) => sandbox,
      filesystem: {
        readFile: (sandbox, path) => sandbox.files.read(path),
        writeFile: (sandbox, path, content) => sandbox.files.write(path, content),
        mkdir: (sandbox, path) => sandbox.files.mkdir(path),
        readdir: async (sandbox, path) =>
          (await sandbox.files.list(path)).map((e) => ({
            name: e.name,
            type: e.isDir ? ('directory' as const) : ('file' as const),
            size: e.size,
            modified: e.modifiedAt,
          })),
        exists: (sandbox, path) => sandbox.files.exists(path),
        remove: (sandbox, path) => sandbox.files.remove(path),
      },
    },
  },
});
