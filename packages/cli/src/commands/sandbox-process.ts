/** `mitos sandbox ps|kill|exec-bg|logs`: background processes inside a sandbox. */
import { type BackgroundProcess, type ExecResult, type ProcessLogs, Sandbox } from '@mitos/sdk';
import type { Command } from 'commander';
import { action, parseEnvOption, parseIntOption, printJson, println, usageError } from '../context.js';
import { toShellCommand } from '../shell.js';
import { table } from '../table.js';

/**
 * How long exec-bg watches a new process before reporting it as running: a command that fails
 * at once (a typo, a port in use) is then reported as exited, with its output, not as a pid.
 */
const SETTLE_MS = 300;

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
    .description(
      'send a signal to a process in a sandbox; a process started with exec-bg gets it with everything it started (exits 3 if there is no such process)',
    )
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
    .description(
      `start a command in the background (no deadline, keeps running) and print its pid; one that ends within ${SETTLE_MS} ms is reported as exited, with its output and status`,
    )
    .argument('<id>', 'sandbox id')
    .argument('<cmd...>', 'command (after --); one argument is run as a shell line')
    .option('--cwd <dir>', 'working directory inside the sandbox')
    .option('--env <KEY=VALUE>', 'environment variable for the command (repeatable)', parseEnvOption)
    .action(
      action(async (ctx, id: string, cmd: string[]) => {
        const o = ctx.cmd.opts<{ cwd?: string; env?: Record<string, string> }>();
        const sb = await Sandbox.connect(id, ctx.client);
        const proc = await sb.execBackground(toShellCommand(cmd), { cwd: o.cwd, env: o.env });
        const exited = await settled(proc);
        if (exited) {
          if (ctx.json) printJson({ id, pid: proc.pid, running: false, ...exited });
          else {
            process.stdout.write(exited.stdout);
            process.stderr.write(exited.stderr);
            process.stderr.write(`process ${proc.pid} exited at once with status ${exited.exitCode}\n`);
          }
          return exited.exitCode === 0 ? 0 : 1;
        }
        // We only report the pid; the process keeps running after we stop listening.
        proc.disconnect();
        if (ctx.json) printJson({ id, pid: proc.pid, running: true });
        else println(String(proc.pid));
      }),
    );

  sandbox
    .command('logs')
    .description(
      'print what a background process (exec-bg) has printed, its last 1 MiB (without a pid: every one still running)',
    )
    .argument('<id>', 'sandbox id')
    .argument('[pid]', 'process id from exec-bg (default: all of them)', parseIntOption(1, 2 ** 31))
    .option('-f, --follow', 'keep printing its output until it exits (one pid only)')
    .action(
      action(async (ctx, id: string, pid: number | undefined) => {
        const sb = await Sandbox.connect(id, ctx.client);
        if (ctx.cmd.opts<{ follow?: boolean }>().follow) {
          if (pid === undefined)
            throw usageError('--follow needs a pid', 'name the process: mitos sandbox logs ID PID -f');
          const proc = await sb.processes.connect(pid, {
            onStdout: (d) => process.stdout.write(d),
            onStderr: (d) => process.stderr.write(d),
          });
          const result = await proc.wait();
          return result.exitCode >= 0 && result.exitCode <= 255 ? result.exitCode : 1;
        }
        const pids = pid === undefined ? (await sb.processes.list()).filter((p) => p.tracked).map((p) => p.pid) : [pid];
        const logs: ProcessLogs[] = [];
        for (const p of pids) logs.push(await sb.processes.logs(p));
        if (ctx.json) return void printJson(pid === undefined ? logs : logs[0]);
        for (const l of logs) {
          if (pid === undefined)
            println(`==> pid ${l.pid} (${l.exitCode === undefined ? 'running' : `exited ${l.exitCode}`}) <==`);
          process.stdout.write(l.stdout);
          process.stderr.write(l.stderr);
        }
      }),
    );
}

/** The process's result if it ends within SETTLE_MS, else undefined (it is still running). */
async function settled(proc: BackgroundProcess): Promise<ExecResult | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const running = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), SETTLE_MS);
  });
  try {
    return await Promise.race([proc.wait(), running]);
  } finally {
    clearTimeout(timer);
  }
}
