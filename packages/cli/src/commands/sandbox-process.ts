/** `mitos sandbox ps|kill|exec-bg`: background processes inside a sandbox. */
import { Sandbox } from '@mitos/sdk';
import type { Command } from 'commander';
import { action, parseEnvOption, parseIntOption, printJson, println } from '../context.js';
import { toShellCommand } from '../shell.js';
import { table } from '../table.js';

export function registerProcesses(sandbox: Command): void {
  sandbox
    .command('ps')
    .description('list the processes running in a sandbox')
    .argument('<id>', 'sandbox id')
    .action(
      action(async (ctx, id: string) => {
        const list = await (await Sandbox.connect(id, ctx.client)).processes.list();
        if (ctx.json) return void printJson(list);
        const rows = list.map((p) => [
          String(p.pid),
          p.tracked ? 'yes' : 'no',
          p.startedAt?.toISOString() ?? '',
          p.command,
        ]);
        println(table(['PID', 'TRACKED', 'STARTED', 'COMMAND'], rows));
      }),
    );

  sandbox
    .command('kill')
    .description('send a signal to a process in a sandbox (exits 3 if there is no such process)')
    .argument('<id>', 'sandbox id')
    .argument('<pid>', 'process id inside the sandbox', parseIntOption(1, 2 ** 31))
    .option('--signal <sig>', 'signal number or name (TERM, SIGINT, ...)', 'KILL')
    .action(
      action(async (ctx, id: string, pid: number) => {
        const { signal } = ctx.cmd.opts<{ signal: string }>();
        const sb = await Sandbox.connect(id, ctx.client);
        await sb.processes.signal(pid, signal);
        if (ctx.json) printJson({ id, pid, signal });
      }),
    );

  sandbox
    .command('exec-bg')
    .description('start a command in the background (no deadline, keeps running) and print its pid')
    .argument('<id>', 'sandbox id')
    .argument('<cmd...>', 'command (after --); one argument is run as a shell line')
    .option('--cwd <dir>', 'working directory inside the sandbox')
    .option('--env <KEY=VALUE>', 'environment variable for the command (repeatable)', parseEnvOption)
    .action(
      action(async (ctx, id: string, cmd: string[]) => {
        const o = ctx.cmd.opts<{ cwd?: string; env?: Record<string, string> }>();
        const sb = await Sandbox.connect(id, ctx.client);
        const proc = await sb.execBackground(toShellCommand(cmd), { cwd: o.cwd, env: o.env });
        // We only report the pid; the process keeps running after we stop listening.
        proc.disconnect();
        if (ctx.json) printJson({ id, pid: proc.pid });
        else println(String(proc.pid));
      }),
    );
}
