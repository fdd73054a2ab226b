/** `mitos metering`: what each sandbox uses, with shared pages and blocks counted once. */
import { SandboxServer } from '@mitos/sdk';
import type { Command } from 'commander';
import { action, printJson, println } from '../context.js';
import { table } from '../table.js';

const MIB = 1024 * 1024;

export function registerMetering(program: Command): void {
  program
    .command('metering')
    .description('show memory (unique / shared with fork relatives), disk and CPU time per sandbox')
    .action(
      action(async (ctx) => {
        const m = await SandboxServer.fromAuth(ctx.client).metering();
        if (ctx.json) return void printJson(m);
        const mib = (bytes: number) => (bytes / MIB).toFixed(1);
        const rows = m.sandboxes.map((s) => [
          s.sandbox,
          mib(s.memory.uniqueBytes),
          mib(s.memory.sharedBytes),
          s.disk ? mib(s.disk.exclusiveBytes) : '-',
          (s.cpuNs / 1e9).toFixed(2),
        ]);
        println(table(['SANDBOX', 'MEM UNIQUE MiB', 'MEM SHARED MiB', 'DISK OWN MiB', 'CPU s'], rows));
      }),
    );
}
