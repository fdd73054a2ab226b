/** `mitos doctor`: check this host can run sandboxes, and say how to fix what cannot. */
import type { ClientOptions } from '@mitos/sdk';
import type { Command } from 'commander';
import { action, printJson, println } from '../context.js';
import { probeServer } from '../server-check.js';

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
        report.checks.push(await serverCheck(ctx.client));
        report.ok = report.checks.every((c) => c.ok);
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

/**
 * What answers at the base URL. Nothing yet is fine (this host may be about to run
 * `mitos serve`); something that is not mitos fails, since every client command would.
 */
async function serverCheck(client: ClientOptions): Promise<DoctorReport['checks'][number]> {
  const probe = await probeServer(client).catch((err: unknown) => ({
    kind: 'error' as const,
    baseUrl: '',
    message: err instanceof Error ? err.message : String(err),
  }));
  const name = 'server at base URL';
  switch (probe.kind) {
    case 'mitos': {
      const v = typeof probe.health.version === 'string' ? ` ${probe.health.version}` : '';
      return { name, ok: true, detail: `${probe.baseUrl}: mitos${v} answers` };
    }
    case 'none':
      return { name, ok: true, detail: `${probe.baseUrl}: nothing listening yet (start one with \`mitos serve\`)` };
    case 'other':
      return {
        name,
        ok: false,
        detail: `${probe.baseUrl}: ${probe.error.message} (${probe.error.errorCause ?? probe.error.code})`,
        fix: probe.error.remediation,
      };
    default:
      return { name, ok: false, detail: `the server answered with an error: ${probe.message}` };
  }
}
