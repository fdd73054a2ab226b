/** `mitos sandbox info <id>`: one sandbox's age, lineage, deadline, limits and network. */
import { Sandbox } from '@mitos/sdk';
import type { Command } from 'commander';
import { action, printJson, println } from '../context.js';
import { ago } from '../time.js';

export function registerInfo(sandbox: Command): void {
  sandbox
    .command('info')
    .description('show one sandbox: template, state, age, parent, deadline, limits, network, env names')
    .argument('<id>', 'sandbox id')
    .action(
      action(async (ctx, id: string) => {
        const d = await (await Sandbox.connect(id, ctx.client)).info();
        if (ctx.json) return void printJson(d);
        const created = d.createdAt ? new Date(d.createdAt) : undefined;
        const l = d.limits;
        const limits = l
          ? [
              l.memoryMb !== undefined && `memory ${l.memoryMb} MiB`,
              l.cpus !== undefined && `cpus ${l.cpus}`,
              l.pids !== undefined && `pids ${l.pids}`,
              `disk ${l.diskMb === undefined ? 'no cap' : `${l.diskMb} MiB`}`,
            ]
              .filter(Boolean)
              .join(', ')
          : 'not reported by this server';
        const network = d.network
          ? Object.entries(d.network)
              .map(([k, v]) => `${k} ${typeof v === 'string' ? v : JSON.stringify(v)}`)
              .join(', ')
          : 'not reported';
        const fields: [string, string][] = [
          ['id', d.id],
          ['template', d.templateId],
          ['state', d.state ?? 'unknown'],
          ['created', created ? `${created.toISOString()} (${ago(created)} ago)` : 'unknown'],
          ['parent', d.parentId ? `${d.parentId} (generation ${d.generation ?? '?'})` : '- (made from its template)'],
          [
            'deadline',
            d.deadline ? `${d.deadline.toISOString()} (in ${ago(new Date(), d.deadline.getTime())})` : 'none',
          ],
          ['limits', limits],
          ['network', network],
          // Names only: values are often credentials (`--json` shows them).
          ['env', d.env && Object.keys(d.env).length > 0 ? Object.keys(d.env).join(', ') : 'none'],
          ['hostname', d.hostname ?? ''],
        ];
        const width = Math.max(...fields.map(([k]) => k.length));
        for (const [k, v] of fields) println(`${`${k}:`.padEnd(width + 1)}  ${v}`);
      }),
    );
}
