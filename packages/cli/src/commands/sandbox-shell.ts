/** `mitos sandbox shell <id>`: an interactive shell in the sandbox on this terminal. */
import { AgentRunError, Sandbox } from '@mitos/sdk';
import type { Command } from 'commander';
import { action } from '../context.js';
import { attachTerminal } from '../terminal.js';
import { exitStatus } from './exec-relay.js';

export function registerShell(sandbox: Command): void {
  sandbox
    .command('shell')
    .description("open an interactive shell in a sandbox on this terminal; exits with the shell's exit code")
    .argument('<id>', 'sandbox id')
    .action(
      action(async (ctx, id: string) => {
        const sb = await Sandbox.connect(id, ctx.client);
        const code = await attachTerminal((opts) => sb.createPty(opts));
        if (code === -1) {
          throw new AgentRunError({
            code: 'terminal_disconnected',
            message: 'the terminal closed without an exit status',
            cause: 'the connection to the sandbox shell ended before the shell reported its exit',
            remediation: 'check the sandbox is still running (`mitos sandbox ls`) and reconnect',
            context: { sandbox: id },
          });
        }
        return exitStatus(code);
      }),
    );
}
