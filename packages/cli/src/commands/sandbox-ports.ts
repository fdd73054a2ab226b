/** `mitos sandbox forward|forwards|unforward|preview`: reach a port inside a sandbox. */
import { Sandbox } from '@mitos/sdk';
import type { Command } from 'commander';
import { action, parseIntOption, printJson, println } from '../context.js';
import { table } from '../table.js';

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
    .command('forwards')
    .description("list a sandbox's open forwards")
    .argument('<id>', 'sandbox id')
    .action(
      action(async (ctx, id: string) => {
        const list = await (await Sandbox.connect(id, ctx.client)).forwards();
        if (ctx.json) return void printJson(list);
        println(
          table(
            ['HOST', 'GUEST PORT'],
            list.map((f) => [f.host, String(f.guestPort)]),
          ),
        );
      }),
    );

  sandbox
    .command('unforward')
    .description('close a forward and cut its connections (exits 3 if there is no such forward)')
    .argument('<id>', 'sandbox id')
    .argument('<host>', 'the forward as `forward` printed it (127.0.0.1:PORT), or the port')
    .action(
      action(async (ctx, id: string, host: string) => {
        await (await Sandbox.connect(id, ctx.client)).closeForward(host);
        if (ctx.json) printJson({ id, host, status: 'closed' });
        else println(`closed ${host}`);
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
