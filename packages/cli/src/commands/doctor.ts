/** `mitos doctor`: check this host can run sandboxes, and say how to fix what cannot. */
import type { Command } from 'commander';
import { action, printJson, println } from '../context.js';

/** The shape runDoctor() resolves to (owned by @mitos/runtime). */
interface DoctorReport {
  checks: { name: string; ok: boolean; detail: string; fix?: string }[];
  ok: boolean;
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check that this host can run mitos sandboxes; exits 1 if a check fails')
    .option('--json', 'print the checks as JSON')
    .action(
      action(async (ctx) => {
        const { runDoctor } = await import('@mitos/runtime');
        const report: DoctorReport = await runDoctor();
        if (ctx.json || ctx.cmd.opts<{ json?: boolean }>().json) printJson(report);
        else {
          const width = Math.max(0, ...report.checks.map((c) => c.name.length));
          for (const c of report.checks) {
            println(`${c.ok ? ' ok ' : 'FAIL'}  ${c.name.padEnd(width)}  ${c.detail}`);
            if (!c.ok && c.fix) println(`      ${' '.repeat(width)}  fix: ${c.fix}`);
          }
          println(report.ok ? '\nall checks passed' : '\nsome checks failed');
        }
        return report.ok ? 0 : 1;
      }),
    );
}
