/** `mitos template ls|build|prune|rm`. */
import { SandboxServer } from '@mitos/sdk';
import type { Command } from 'commander';
import { action, printJson, println } from '../context.js';
import { table } from '../table.js';
import { registerTemplateBuild } from './template-build.js';

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

  registerTemplateBuild(template);
}
