/**
 * `mitos sandbox ...`: this file holds create|ls|exec|terminate and composes the other verbs,
 * which live in sandbox-<topic>.ts.
 */
import { create, type ExecResult, Sandbox, SandboxServer } from '@mitos/sdk';
import type { Command } from 'commander';
import { action, parseEnvOption, parseIntOption, printJson, println } from '../context.js';
import { toShellCommand } from '../shell.js';
import { table } from '../table.js';
import { registerRunCode } from './sandbox-code.js';
import { registerLifecycle } from './sandbox-lifecycle.js';
import { registerPorts } from './sandbox-ports.js';
import { registerProcesses } from './sandbox-process.js';
import { registerShell } from './sandbox-shell.js';

export interface ExecFlags {
  timeout?: number;
  cwd?: string;
  env?: Record<string, string>;
}

/** Add the flags `sandbox exec` and `run` share. */
export function withExecFlags(cmd: Command): Command {
  return cmd
    .option(
      '--timeout <seconds>',
      'kill the command after this many seconds (max 86400)',
      parseIntOption(0, 86_400_000),
    )
    .option('--cwd <dir>', 'working directory inside the sandbox')
    .option('--env <KEY=VALUE>', 'environment variable for the command (repeatable)', parseEnvOption);
}

export function execOptions(flags: ExecFlags, signal?: AbortSignal) {
  return { timeoutSeconds: flags.timeout, cwd: flags.cwd, env: flags.env, signal };
}

/** Relay a finished command: its output to our streams (or JSON), its status as ours. */
export function relay(result: ExecResult, json: boolean): number {
  if (json) printJson(result);
  else {
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
  }
  return exitStatus(result.exitCode);
}

/** Exit statuses are 0-255; anything else (a signal report) cannot pass through as-is. */
export function exitStatus(code: number): number {
  return code >= 0 && code <= 255 ? code : 1;
}

export function registerSandbox(program: Command): void {
  const sandbox = program
    .command('sandbox')
    .description('create, list, run commands and code in, and manage sandboxes');

  sandbox
    .command('create')
    .description('start a sandbox from a template and print its id')
    .option('--template <id>', 'template to fork', 'python')
    .option('--id <id>', 'sandbox id (default: generated sandbox-xxxxxxxx)')
    .action(
      action(async (ctx) => {
        const o = ctx.cmd.opts<{ template: string; id?: string }>();
        const sb = await create(o.template, { ...ctx.client, id: o.id });
        if (ctx.json) printJson(sb);
        else println(sb.id);
      }),
    );

  sandbox
    .command('ls')
    .alias('list')
    .description('list running sandboxes')
    .action(
      action(async (ctx) => {
        const list = await SandboxServer.fromAuth(ctx.client).listSandboxes();
        if (ctx.json) return void printJson(list);
        const rows = list.map((s) => [s.id, s.templateId, s.state ?? '', s.createdAt ?? '']);
        println(table(['ID', 'TEMPLATE', 'STATE', 'CREATED'], rows));
      }),
    );

  withExecFlags(
    sandbox
      .command('exec')
      .description("run a command in a sandbox; exits with the command's exit code")
      .argument('<id>', 'sandbox id')
      .argument('<cmd...>', 'command (after --); one argument is run as a shell line')
      .option('--stream', 'print output as it is produced instead of when the command ends'),
  ).action(
    action(async (ctx, id: string, cmd: string[]) => {
      const o = ctx.cmd.opts<ExecFlags & { stream?: boolean }>();
      const sb = await Sandbox.connect(id, ctx.client);
      // --json prints one result object at the end, so streaming would change nothing there.
      if (o.stream && !ctx.json) {
        const result = await sb.exec(toShellCommand(cmd), {
          ...execOptions(o),
          onStdout: (data) => process.stdout.write(data),
          onStderr: (data) => process.stderr.write(data),
        });
        return exitStatus(result.exitCode);
      }
      const result = await sb.exec(toShellCommand(cmd), execOptions(o));
      return relay(result, ctx.json);
    }),
  );

  sandbox
    .command('terminate')
    .alias('rm')
    .description('stop and delete a sandbox')
    .argument('<id>', 'sandbox id')
    .action(
      action(async (ctx, id: string) => {
        const sb = await Sandbox.connect(id, ctx.client);
        await sb.terminate();
        if (ctx.json) printJson({ id, status: 'terminated' });
        else println(`terminated ${id}`);
      }),
    );

  registerShell(sandbox);
  registerRunCode(sandbox);
  registerProcesses(sandbox);
  registerLifecycle(sandbox);
  registerPorts(sandbox);
}
