/** `mitos serve`: run the HTTP server in this process until SIGINT/SIGTERM. */
import { type Command, InvalidArgumentError } from 'commander';
import { action, collect, parseIntOption } from '../context.js';
import { readableDestination } from '../log-format.js';
import { prebuildPrinter } from './template-build.js';

interface ServeFlags {
  host: string;
  port: number;
  stateDir?: string;
  maxExecTimeoutSeconds?: number;
  prebuild?: string[];
  maxStreamsPerSandbox?: number;
  defaultLifetimeSeconds?: number;
  previewTtlSeconds?: number;
  previewDomain?: string;
  e2bDomain?: string;
  warmPool?: number;
  forkSlots?: number;
  warmKernels?: boolean;
  seccompOptOut?: string[];
  engine?: 'linux' | 'microvm';
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      'run a mitos server (seed wire v1) on this host; logs are readable lines on a terminal, JSON lines otherwise or with --json',
    )
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', parseIntOption(0, 65_535), 8080)
    .option('--state-dir <dir>', 'where templates, sandboxes and state live')
    // Declared for --help only: the global --api-key collects every occurrence.
    .option('--api-key <key>', 'accept this bearer key (repeatable; none = tokenless)')
    .option('--max-exec-timeout-seconds <n>', 'ceiling for requested timeouts (0 = none)', parseIntOption(0, 2 ** 31))
    .option('--prebuild <template>', 'build this template before answering (repeatable)', collect)
    .option(
      '--max-streams-per-sandbox <n>',
      'concurrent exec/run_code/process streams and terminals per sandbox (server default 16; 0 = no cap)',
      parseIntOption(0, 2 ** 31),
    )
    .option(
      '--default-lifetime-seconds <n>',
      'terminate every new sandbox this many seconds after it starts (default: no deadline)',
      parseIntOption(1, 2 ** 31),
    )
    .option(
      '--warm-pool <n>',
      'launched sandboxes kept ready per template, so a create takes milliseconds (default 2; 0 = off)',
      parseIntOption(0, 64),
    )
    .option(
      '--fork-slots <n>',
      'fork children launched ahead (namespaces, uid range, cgroups ready), so a fork only gives each its root (default 2; 0 = off)',
      parseIntOption(0, 64),
    )
    .option(
      '--warm-kernels',
      "start python kernels in every pooled sandbox, so a first run_code skips the kernel's start-up (about 11 MiB per pooled sandbox); default: only in pools of templates whose sandboxes ran code in the last 10 minutes, and of code-interpreter templates",
    )
    .option(
      '--no-warm-kernels',
      'start no kernel ahead in any pool (the first run_code of each sandbox starts its kernel)',
    )
    .option(
      '--seccomp-opt-out <template>',
      "run this template's sandboxes without the default seccomp filter (repeatable; logged at every launch)",
      collect,
    )
    .option(
      '--engine <engine>',
      'linux (namespaces; default) or microvm (QEMU microVMs: KVM where usable, else TCG; VMs end with the server)',
      (v: string) => {
        if (v !== 'linux' && v !== 'microvm') throw new InvalidArgumentError('expected linux or microvm');
        return v;
      },
    )
    .option('--preview-ttl-seconds <n>', 'how long preview URLs stay valid', parseIntOption(1, 2 ** 31))
    .option(
      '--preview-domain <domain>',
      'serve previews as https://<id>.preview.<domain>/ (default: <server>/preview/<token>/)',
    )
    .option(
      '--e2b-domain <domain>',
      'the domain E2B SDKs build sandbox hosts on (<port>-<id>.<domain>; default: the host the client used)',
    )
    .action(
      action(async (ctx) => {
        const o = ctx.cmd.opts<ServeFlags>();
        const terminal = process.stdout.isTTY === true && !ctx.json;
        // Loaded on demand: client commands stay fast and never load the engine's native modules.
        const { runServe } = await import('@mitos/runtime');
        const { createMcpHttpHandler } = await import('@mitos/mcp');
        await runServe({
          host: o.host,
          port: o.port,
          stateDir: o.stateDir,
          apiKeys: ctx.globals.apiKey ?? [],
          maxExecTimeoutSeconds: o.maxExecTimeoutSeconds,
          prebuild: o.prebuild,
          maxStreamsPerSandbox: o.maxStreamsPerSandbox,
          defaultLifetimeSeconds: o.defaultLifetimeSeconds,
          previewTtlSeconds: o.previewTtlSeconds,
          previewDomain: o.previewDomain,
          e2bDomain: o.e2bDomain,
          warmPoolSize: o.warmPool,
          forkSlots: o.forkSlots,
          warmKernels: o.warmKernels,
          seccompOptOut: o.seccompOptOut,
          engine: o.engine,
          // A person at a terminal reads lines; a pipe, a file or --json gets JSON lines.
          logDestination: terminal ? readableDestination(process.stdout) : undefined,
          prebuildProgress: terminal ? prebuildPrinter((line) => process.stdout.write(`${line}\n`)) : undefined,
          mounts: (self) => {
            const mcp = createMcpHttpHandler({ apiUrl: self.url });
            return [{ path: '/mcp', fetch: mcp.handle, close: mcp.close }];
          },
        });
      }),
    );
}
