/**
 * `mitos sandbox ...`: this file holds create|ls|info|exec|terminate and composes the other
 * verbs, which live in sandbox-<topic>.ts.
 */
import { NotFoundError, Sandbox, SandboxServer } from '@mitos/sdk';
import { type Command, Option } from 'commander';
import { action, printJson, println, warn } from '../context.js';
import { toShellCommand } from '../shell.js';
import { table } from '../table.js';
import { ago } from '../time.js';
import { type ExecFlags, execAndRelay, withExecFlags } from './exec-relay.js';
import { registerRunCode } from './sandbox-code.js';
import { registerCreate } from './sandbox-create.js';
import { registerInfo } from './sandbox-info.js';
import { registerLifecycle } from './sandbox-lifecycle.js';
import { registerPorts } from './sandbox-ports.js';
import { registerProcesses } from './sandbox-process.js';
import { registerShell } from './sandbox-shell.js';

export function registerSandbox(program: Command): void {
  const sandbox = program
    .command('sandbox')
    .description('create, list, run commands and code in, and manage sandboxes');

  registerCreate(sandbox);

  sandbox
    .command('ls')
    .alias('list')
    .description('list running sandboxes')
    .action(
      action(async (ctx) => {
        const list = await SandboxServer.fromAuth(ctx.client).listSandboxes();
        if (ctx.json) return void printJson(list);
        const now = Date.now();
        const rows = list.map((s) => [
          s.id,
          s.templateId,
          s.state ?? '',
          s.createdAt ? ago(new Date(s.createdAt), now) : '',
          s.parentId ?? '-',
        ]);
        println(table(['ID', 'TEMPLATE', 'STATE', 'AGE', 'PARENT'], rows));
      }),
    );

  registerInfo(sandbox);

  withExecFlags(
    sandbox
      .command('exec')
      .description("run a command in a sandbox, its output as it comes; exits with the command's exit code")
      .argument('<id>', 'sandbox id')
      .argument('<cmd...>', 'command (after --); one argument is run as a shell line')
      // Output has always been streamed since; the flag stays so scripts that pass it keep working.
      .addOption(new Option('--stream', 'print output as it is produced (always so)').hideHelp()),
  ).action(
    action(async (ctx, id: string, cmd: string[]) => {
      const sb = await Sandbox.connect(id, ctx.client);
      return execAndRelay(sb, toShellCommand(cmd), ctx.cmd.opts<ExecFlags>(), ctx.json);
    }),
  );

  sandbox
    .command('terminate')
    .alias('rm')
    .description('stop and delete a sandbox; one that is gone already is not an error, as in the SDK')
    .argument('<id>', 'sandbox id')
    .action(
      action(async (ctx, id: string) => {
        const sb = await Sandbox.connect(id, ctx.client).catch((err: unknown) => {
          if (err instanceof NotFoundError) return undefined;
          throw err;
        });
        await sb?.terminate();
        const status = sb ? 'terminated' : 'not_found';
        if (ctx.json) printJson({ id, status });
        else if (sb) println(`terminated ${id}`);
        else warn(`no sandbox "${id}": terminated already, or never created (see \`mitos sandbox ls\`)`);
      }),
    );

  registerShell(sandbox);
  registerRunCode(sandbox);
  registerProcesses(sandbox);
  registerLifecycle(sandbox);
  registerPorts(sandbox);
}
