/** `mitos workspace create|ls|log|diff|fork|revert`: named, versioned /workspace trees. */
import { SandboxServer } from '@mitos/sdk';
import type { Command } from 'commander';
import { action, printJson, println } from '../context.js';
import { table } from '../table.js';

function whole(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number >= 0`);
    return n;
  };
}

export function registerWorkspace(program: Command): void {
  const ws = program.command('workspace').description('named, versioned /workspace trees (bind with --workspace)');

  ws.command('create')
    .description('create a workspace')
    .argument('<name>', 'lowercase letters, digits and -')
    .option('--keep <n>', 'keep at most n revisions (0 = all)', whole('--keep'))
    .option('--min-age <seconds>', 'never prune revisions younger than this', whole('--min-age'))
    .action(
      action(async (ctx, name: string) => {
        const o = ctx.cmd.opts<{ keep?: number; minAge?: number }>();
        const out = await SandboxServer.fromAuth(ctx.client).workspaces.create(name, {
          retention: { revisions: o.keep, minAgeSeconds: o.minAge },
        });
        if (ctx.json) return void printJson(out);
        println(`created workspace ${out.name}`);
      }),
    );

  ws.command('ls')
    .alias('list')
    .description('list workspaces')
    .action(
      action(async (ctx) => {
        const list = await SandboxServer.fromAuth(ctx.client).workspaces.list();
        if (ctx.json) return void printJson(list);
        const rows = list.map((w) => [w.name, w.head ?? '-', String(w.revisions), w.writer ?? '-']);
        println(table(['NAME', 'HEAD', 'REVISIONS', 'WRITER'], rows));
      }),
    );

  ws.command('log')
    .description('revisions of a workspace, newest first')
    .argument('<name>')
    .action(
      action(async (ctx, name: string) => {
        const log = await SandboxServer.fromAuth(ctx.client).workspaces.log(name);
        if (ctx.json) return void printJson(log);
        const rows = log.map((r) => [
          r.id,
          r.parent ?? '(root)',
          r.source,
          String(r.files),
          r.digest.slice(0, 12),
          r.createdAt.toISOString(),
        ]);
        println(table(['REVISION', 'PARENT', 'SOURCE', 'FILES', 'DIGEST', 'CREATED'], rows));
      }),
    );

  ws.command('diff')
    .description('paths a revision added, removed and modified (default: the head against its parent)')
    .argument('<name>')
    .option('--revision <id>', 'the revision to show (default: head)')
    .option('--against <id>', 'compare with this revision (default: its parent)')
    .action(
      action(async (ctx, name: string) => {
        const o = ctx.cmd.opts<{ revision?: string; against?: string }>();
        const d = await SandboxServer.fromAuth(ctx.client).workspaces.diff(name, o);
        if (ctx.json) return void printJson(d);
        for (const p of d.added) println(`A ${p}`);
        for (const p of d.removed) println(`D ${p}`);
        for (const p of d.modified) println(`M ${p}`);
      }),
    );

  ws.command('fork')
    .description('start a new workspace from a revision')
    .argument('<name>', 'the source workspace')
    .argument('<into>', 'the new workspace')
    .option('--revision <id>', 'the revision to start from (default: head)')
    .action(
      action(async (ctx, name: string, into: string) => {
        const o = ctx.cmd.opts<{ revision?: string }>();
        const r = await SandboxServer.fromAuth(ctx.client).workspaces.fork(name, into, o);
        if (ctx.json) return void printJson(r);
        println(`forked ${r.parent} into ${into} as ${r.id}`);
      }),
    );

  ws.command('revert')
    .description('make a new head with the tree of an earlier revision')
    .argument('<name>')
    .argument('<revision>')
    .action(
      action(async (ctx, name: string, revision: string) => {
        const r = await SandboxServer.fromAuth(ctx.client).workspaces.revert(name, revision);
        if (ctx.json) return void printJson(r);
        println(`reverted ${name} to ${revision} as ${r.id}`);
      }),
    );
}
