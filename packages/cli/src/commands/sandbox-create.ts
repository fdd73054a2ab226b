/** `mitos sandbox create`: a sandbox from a template, with its limits, network and lifetime. */
import { create, type Network, type ResourceLimits } from '@mitos/sdk';
import { type Command, InvalidArgumentError } from 'commander';
import { parseEnvOption, parseIntOption } from '../args.js';
import { action, printJson, println, warn } from '../context.js';

interface CreateFlags {
  template: string;
  id?: string;
  memoryMb?: number;
  cpus?: number;
  pids?: number;
  diskMb?: number;
  lifetime?: number;
  egress?: 'allow' | 'deny';
  allowDomain: string[];
  allowCidr: string[];
  env?: Record<string, string>;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerCreate(sandbox: Command): void {
  sandbox
    .command('create')
    .description('start a sandbox from a template and print its id')
    .option('--template <id>', 'template to start from (an unknown id creates it, with a warning)', 'python')
    .option('--id <id>', 'sandbox id (default: generated sandbox-xxxxxxxx)')
    .option('--memory-mb <n>', 'memory limit in MiB (default: the template’s)', parseIntOption(16, 1_048_576))
    .option('--cpus <n>', 'CPU quota in cores, e.g. 0.5 (default: the template’s)', parseCpus)
    .option('--pids <n>', 'most processes and threads at once (default: the template’s)', parseIntOption(8, 1_000_000))
    .option('--disk-mb <n>', 'most MiB it may write (default: no per-sandbox cap)', parseIntOption(16, 16_777_216))
    .option('--egress <allow|deny>', 'outbound internet (default: the template’s posture)', parseEgress)
    .option('--allow-domain <host:port>', 'a name it may reach, e.g. pypi.org:443 or *.example.com:443', collect, [])
    .option('--allow-cidr <cidr[:port]>', 'addresses it may reach, e.g. 10.1.2.0/24:5432', collect, [])
    .option(
      '--env <KEY=VALUE>',
      'env for everything it runs and its forks (repeatable; a call’s own env wins)',
      parseEnvOption,
    )
    .option(
      '--lifetime <seconds>',
      'terminate it this many seconds after creation (max 86400)',
      parseIntOption(1, 86_400),
    )
    .action(
      action(async (ctx) => {
        const o = ctx.cmd.opts<CreateFlags>();
        const limits: ResourceLimits = { memoryMb: o.memoryMb, cpus: o.cpus, pids: o.pids, diskMb: o.diskMb };
        const given = Object.values(limits).some((v) => v !== undefined);
        const sb = await create(o.template, {
          ...ctx.client,
          id: o.id,
          limits: given ? limits : undefined,
          network: networkOf(o),
          env: o.env,
          onWarning: warn,
        });
        let deadlineUnix: number | undefined;
        if (o.lifetime !== undefined) {
          // A sandbox that cannot get its lifetime must not live on without one.
          deadlineUnix = await sb.setTimeout(o.lifetime).catch(async (err: unknown) => {
            await sb.terminate().catch(() => {});
            throw err;
          });
        }
        if (ctx.json) printJson(deadlineUnix === undefined ? sb : { ...sb.toJSON(), deadlineUnix });
        else println(sb.id);
      }),
    );
}

/** The posture the flags ask for; none (the template's) when no network flag is given. */
function networkOf(o: CreateFlags): Network | undefined {
  if (o.egress === undefined && o.allowDomain.length === 0 && o.allowCidr.length === 0) return undefined;
  return { egress: o.egress ?? 'deny', allowDomains: o.allowDomain, allowCidrs: o.allowCidr };
}

function parseEgress(value: string): 'allow' | 'deny' {
  if (value !== 'allow' && value !== 'deny') throw new InvalidArgumentError('expected allow or deny');
  return value;
}

function parseCpus(value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(n >= 0.01 && n <= 1024)) {
    throw new InvalidArgumentError('expected a number of cores from 0.01 to 1024');
  }
  return n;
}
