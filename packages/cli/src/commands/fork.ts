/** `mitos fork <id>`: branch a running sandbox into copies of its current state. */
import { MAX_FORK_COUNT, Sandbox } from '@mitos/sdk';
import { type Command, Option } from 'commander';
import { action, collect, parseIntOption, printJson, println, usageError } from '../context.js';

export function registerFork(program: Command): void {
  program
    .command('fork')
    .description(
      'fork a running sandbox and print the children ids: files and interpreter variables are carried; running processes only where the server can (--json reports what was carried)',
    )
    .argument('<id>', 'sandbox to fork')
    .option('--count <n>', `number of children (1-${MAX_FORK_COUNT})`, parseIntOption(1, MAX_FORK_COUNT), 1)
    .option('--id <id>', 'child id (repeatable, one per child; default: generated)', collect)
    .addOption(
      new Option(
        '--processes <mode>',
        'carry running processes: all, none, or auto (all when any run beyond the agent); omitted: the engine default (linux: files and interpreter state only)',
      ).choices(['all', 'none', 'auto']),
    )
    .action(
      action(async (ctx, id: string) => {
        const o = ctx.cmd.opts<{ count: number; id?: string[]; processes?: 'all' | 'none' | 'auto' }>();
        if (o.id && o.id.length !== o.count) {
          throw usageError(
            `${o.id.length} --id given for --count ${o.count}`,
            'give one --id per child, or none to have them generated',
          );
        }
        const sb = await Sandbox.connect(id, ctx.client);
        const report = await sb.forkWithReport(o.count, { ids: o.id, processes: o.processes });
        if (ctx.json) return void printJson(report);
        for (const child of report.children) println(child.id);
        // What the children lack goes to stderr, so stdout stays one child id per line.
        for (const p of report.carried.processesNotCarried) {
          process.stderr.write(`not carried: pid ${p.pid} ${p.command} (${p.reason})\n`);
        }
      }),
    );
}
