/** `mitos sandbox pause|resume|set-timeout`: a sandbox's run state and lifetime. */
import { Sandbox } from '@mitos/sdk';
import type { Command } from 'commander';
import { action, parseIntOption, printJson, println } from '../context.js';

export function registerLifecycle(sandbox: Command): void {
  for (const verb of ['pause', 'resume'] as const) {
    sandbox
      .command(verb)
      .description(
        verb === 'pause'
          ? 'freeze every process in a sandbox (memory and files are kept)'
          : 'continue a paused sandbox where it stopped',
      )
      .argument('<id>', 'sandbox id')
      .action(
        action(async (ctx, id: string) => {
          const sb = await Sandbox.connect(id, ctx.client);
          const state = verb === 'pause' ? 'paused' : 'running';
          // Asking for the state a sandbox is already in succeeds (the wire answers 200 either
          // way), so the state is read first to tell the user nothing changed.
          const already = (await sb.info()).state === state;
          if (!already) await sb[verb]();
          if (ctx.json) printJson({ id, state, changed: !already });
          else println(already ? `${state} ${id} (already)` : `${state} ${id}`);
        }),
      );
  }

  sandbox
    .command('set-timeout')
    .description('terminate a sandbox this many seconds from now (max 86400), replacing any earlier deadline')
    .argument('<id>', 'sandbox id')
    // Range checks are the SDK's, so an oversized value fails as timeout_too_large (exit 2).
    .argument('<seconds>', 'seconds from now', parseIntOption(0, Number.MAX_SAFE_INTEGER))
    .action(
      action(async (ctx, id: string, seconds: number) => {
        const sb = await Sandbox.connect(id, ctx.client);
        const deadlineUnix = await sb.setTimeout(seconds);
        if (ctx.json) printJson({ id, deadlineUnix });
        else println(`deadline ${new Date(deadlineUnix * 1000).toISOString()} (unix ${deadlineUnix})`);
      }),
    );
}
