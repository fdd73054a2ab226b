/** `mitos sandbox pause|resume|set-timeout`: a sandbox's run state and lifetime. */
import { Sandbox, SandboxNotRunningError } from '@mitos/sdk';
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
          // Asking for the state a sandbox is already in succeeds, for pause as for resume
          // (the wire answers 409 to pausing a paused sandbox but 200 to resuming a running one).
          const already = await sb[verb]().then(
            () => false,
            async (err: unknown) => {
              if (err instanceof SandboxNotRunningError && (await sb.info()).state === state) return true;
              throw err;
            },
          );
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
