/** `mitos fork <id>`: branch a running sandbox into copies of its current state. */
import { MAX_FORK_COUNT, Sandbox } from '@mitos/sdk';
import type { Command } from 'commander';
import { action, collect, parseIntOption, printJson, println, usageError } from '../context.js';

export function registerFork(program: Command): void {
  program
    .command('fork')
    .description('fork a running sandbox (files, processes, interpreter state) and print the children ids')
    .argument('<id>', 'sandbox to fork')
    .option('--count <n>', `number of children (1-${MAX_FORK_COUNT})`, parseIntOption(1, MAX_FORK_COUNT), 1)
    .option('--id <id>', 'child id (repeatable, one per child; default: generated)', collect)
    .action(
      action(async (ctx, id: string) => {
        const o = ctx.cmd.opts<{ count: number; id?: string[] }>();
        if (o.id && o.id.length !== o.count) {
          throw usageError(
            `${o.id.length} --id given for --count ${o.count}`,
            'give one --id per child, or none to have them generated',
          );
        }
        const sb = await Sandbox.connect(id, ctx.client);
        const report = await sb.forkWithReport(o.count, { ids: o.id });
        if (ctx.json) return void printJson(report);
        for (const child of report.children) println(child.id);
      }),
    );
}
