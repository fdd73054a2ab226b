/** `mitos sandbox forward|preview`: reach a port inside a sandbox. */
import { Sandbox } from '@mitos/sdk';
import type { Command } from 'commander';
import { action, parseIntOption, printJson, println } from '../context.js';

export function registerPorts(sandbox: Command): void {
  sandbox
    .command('forward')
    .description('open a loopback port on the server host bridged to a port inside the sandbox; prints host:port')
    .argument('<id>', 'sandbox id')
    .argument('<port>', 'port inside the sandbox', parseIntOption(1, 65_535))
    .action(
      action(async (ctx, id: string, port: number) => {
        const fwd = await (await Sandbox.connect(id, ctx.client)).forward(port);
        if (ctx.json) printJson(fwd);
        else println(fwd.token === undefined ? fwd.host : `${fwd.host} (send this line first: ${fwd.token})`);
      }),
    );

  sandbox
    .command('preview')
    .description('print a signed URL that reaches a port inside the sandbox through the server')
    .argument('<id>', 'sandbox id')
    .argument('<port>', 'port inside the sandbox', parseIntOption(1, 65_535))
    .action(
      action(async (ctx, id: string, port: number) => {
        const preview = await (await Sandbox.connect(id, ctx.client)).preview(port);
        if (ctx.json) printJson(preview);
        else println(preview.url);
      }),
    );
}
