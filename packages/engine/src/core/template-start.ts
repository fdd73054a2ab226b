/**
 * What a template built from a spec gives each of its sandboxes: the env, working directory and
 * user of its commands, and its start command, run as a tracked background process and gated by
 * the ready check before the sandbox is handed out (so a pooled sandbox is started and ready).
 */
import { MitosError } from '@mitos/protocol';
import type { ExecOptions, ProcessOptions } from '../engine.js';
import type { SandboxRow, StateStore } from '../state/store.js';
import type { TemplateConfig } from '../state/template-config.js';
import type { SandboxAgents } from './agents.js';
import { withSandboxEnv } from './sandbox-env.js';
import { shellQuote } from './template-build.js';

const DEFAULT_READY_TIMEOUT_MS = 60_000;
const POLL_MS = 50;

/** An exec or process request with the template's env, working directory and user. */
export function withTemplateConfig<T extends ExecOptions | ProcessOptions>(
  config: TemplateConfig | undefined,
  options: T,
): T {
  if (!config) return options;
  return {
    ...options,
    // The agent switches user itself (no runuser wrapper); a call naming its own user wins.
    user: options.user ?? config.user,
    cwd: options.cwd ?? config.workdir,
    env: { ...config.env, ...options.env },
  };
}

/** Config of templates built from a spec, by id (null: a built-in), cached: read on every exec. */
export class TemplateConfigs {
  private readonly byId = new Map<string, TemplateConfig | null>();

  constructor(private readonly store: StateStore) {}

  of(templateId: string): TemplateConfig | undefined {
    let config = this.byId.get(templateId);
    if (config === undefined) {
      config = this.store.template(templateId)?.config ?? null;
      this.byId.set(templateId, config);
    }
    return config ?? undefined;
  }

  forget(templateId: string): void {
    this.byId.delete(templateId);
  }

  /** A command's options under its template's config and its sandbox's env (the call's env wins). */
  apply<T extends ExecOptions | ProcessOptions>(row: SandboxRow, options: T): T {
    return withTemplateConfig(this.of(row.templateId), withSandboxEnv(row, options));
  }
}

/** Start the template's command (if any) and wait for its ready check. */
export async function startTemplateCommand(
  agents: SandboxAgents,
  sandboxId: string,
  templateId: string,
  config: TemplateConfig | undefined,
): Promise<void> {
  if (!config?.command?.length) return;
  const argv = config.command.map(shellQuote).join(' ');
  const handle = await agents.startProcess(
    sandboxId,
    withTemplateConfig(config, { command: `exec ${argv}`, timeoutMs: 0 }),
  );
  const ready = config.ready;
  if (!ready) return;
  let output = '';
  handle.subscribe({
    onStdout: (d) => (output = (output + d.toString()).slice(-2000)),
    onStderr: (d) => (output = (output + d.toString()).slice(-2000)),
  });
  let exited = false;
  void handle.wait().then(
    () => (exited = true),
    () => (exited = true),
  );
  const deadline = Date.now() + (ready.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
  while (Date.now() < deadline && !exited) {
    if (await probe(agents, sandboxId, config, ready)) return;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const what = ready.port !== undefined ? `port ${ready.port} accepting connections` : `\`${ready.command}\` exiting 0`;
  throw new MitosError(
    'exec_failed',
    `the start command of template "${templateId}" ${exited ? 'exited' : 'was not ready'} before ${what}: ${config.command.join(' ')}\n${output}`,
    { template: templateId },
    { remediation: 'fix the template start command or its ready check (the cause ends with its last output)' },
  );
}

async function probe(
  agents: SandboxAgents,
  sandboxId: string,
  config: TemplateConfig,
  ready: NonNullable<TemplateConfig['ready']>,
): Promise<boolean> {
  if (ready.port !== undefined) {
    try {
      const socket = await agents.connectPort(sandboxId, ready.port);
      socket.destroy();
      return true;
    } catch {
      return false;
    }
  }
  const result = await agents.exec(
    sandboxId,
    withTemplateConfig(config, { command: ready.command as string, timeoutMs: 10_000 }),
  );
  return result.exitCode === 0;
}
