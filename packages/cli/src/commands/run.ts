/** `mitos run`: a throwaway sandbox for one command. */
import { create, type Sandbox } from '@mitos/sdk';
import type { Command } from 'commander';
import { action, warn } from '../context.js';
import { formatError } from '../report.js';
import { toShellCommand } from '../shell.js';
import { type ExecFlags, execAndRelay, withExecFlags } from './exec-relay.js';

/** Conventional status for "interrupted by SIGINT". */
const INTERRUPTED = 130;

export function registerRun(program: Command): void {
  withExecFlags(
    program
      .command('run')
      .description("create a sandbox, run one command, terminate it; exits with the command's exit code")
      .option('--template <id>', 'template to start from (an unknown id creates it, with a warning)', 'python')
      .argument('<cmd...>', 'command (after --); one argument is run as a shell line'),
  ).action(
    action(async (ctx, cmd: string[]) => {
      const o = ctx.cmd.opts<ExecFlags & { template: string }>();
      // Ctrl-C must still reach the finally below, or the sandbox would outlive us.
      const interrupt = new AbortController();
      const onSigint = () => interrupt.abort(new Error('interrupted'));
      process.once('SIGINT', onSigint);
      let sb: Sandbox | undefined;
      try {
        sb = await create(o.template, { ...ctx.client, signal: interrupt.signal, onWarning: warn });
        return await execAndRelay(sb, toShellCommand(cmd), o, ctx.json, interrupt.signal);
      } catch (err) {
        if (interrupt.signal.aborted) return INTERRUPTED;
        throw err;
      } finally {
        process.off('SIGINT', onSigint);
        if (sb) {
          // Our exit need not wait for the host's clean-up: the server answers once the sandbox
          // is refused to every call and finishes removing it by itself.
          await sb.terminate({ wait: false }).catch((err: unknown) => {
            process.stderr.write(`warning: sandbox ${sb?.id} was not terminated\n${formatError(err, false, [])}\n`);
          });
        }
      }
    }),
  );
}
