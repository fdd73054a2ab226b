/** `mitos template ls|build`. */
import { SandboxServer } from '@mitos/sdk';
import type { Command } from 'commander';
import { action, printJson, println } from '../context.js';
import { table } from '../table.js';

export function registerTemplate(program: Command): void {
  const template = program.command('template').description('list and build templates');

  template
    .command('ls')
    .alias('list')
    .description('list templates')
    .action(
      action(async (ctx) => {
        const list = await SandboxServer.fromAuth(ctx.client).listTemplates();
        if (ctx.json) return void printJson(list);
        const rows = list.map((t) => [t.id, t.ready ? 'yes' : 'no', t.image ?? '', t.createdAt ?? '']);
        println(table(['ID', 'READY', 'IMAGE', 'CREATED'], rows));
      }),
    );

  template
    .command('build')
    .description('create or rebuild a template (POST /v1/templates)')
    .argument('<id>', 'template id, e.g. python')
    .action(
      action(async (ctx, id: string) => {
        const t = await SandboxServer.fromAuth(ctx.client).createTemplate(id);
        if (ctx.json) return void printJson(t);
        const took = t.creationTimeMs === undefined ? '' : ` in ${t.creationTimeMs} ms`;
        println(`built template ${t.id}${took}`);
      }),
    );
}
