/**
 * `mitos template build` in its three forms: an id alone (a built-in, as before), `--spec
 * spec.json` (a SandboxTemplate spec or object, as `Template().toTemplate()` writes it) and
 * `-f Dockerfile [context]` (each stage its own template, built in order). Progress prints like
 * `docker build`: one line per step with CACHED or its time; logs only with --verbose, or the
 * last lines of a failing step; --json prints the build events as NDJSON.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import {
  AgentRunError,
  DockerfileError,
  dockerfileTemplates,
  SandboxServer,
  type TemplateBuildOptions,
} from '@mitos/sdk';
import type { Command } from 'commander';
import { action, printJson, println } from '../context.js';
import { elapsed } from '../time.js';

interface BuildFlags {
  file?: string;
  spec?: string;
  id?: string;
  verbose?: boolean;
  cache?: boolean;
  buildArg?: string[];
  buildEgress?: 'allow' | 'deny';
  buildAllowCidr?: string[];
}

type BuildEvent = Parameters<NonNullable<TemplateBuildOptions['onEvent']>>[0];

/** A human progress printer for one template's build events. */
export function progressPrinter(label: string, verbose: boolean, write: (line: string) => void) {
  let stepLine = '';
  return (event: BuildEvent): void => {
    switch (event.type) {
      case 'base':
        write(`[${label}] FROM ${event.image}${event.cached ? ' (cached)' : ''} ${event.digest.slice(0, 19)}`);
        break;
      case 'step':
        stepLine = `[${label} ${event.step}/${event.total}] ${event.kind.toUpperCase()} ${event.label}`;
        if (verbose) write(stepLine);
        break;
      case 'log':
        if (verbose) write(`    ${event.line}`);
        break;
      case 'step_done':
        write(`${stepLine.padEnd(60)} ${event.cached ? 'CACHED' : `${(event.duration_ms / 1000).toFixed(1)}s`}`);
        break;
      case 'done':
        write(`[${label}] done in ${(event.duration_ms / 1000).toFixed(1)}s: ${event.digest}`);
        break;
      case 'error':
        if (stepLine) write(`${stepLine.padEnd(60)} FAILED`);
        break;
    }
  };
}

/**
 * `mitos serve --prebuild` progress at a terminal, in the same shape as a template build's: one
 * `[id] line` per build step the image builder reports, then `[id] ready in 1.2s`.
 */
export function prebuildPrinter(write: (line: string) => void) {
  return (id: string, event: { line: string } | { readyMs: number }): void =>
    write('line' in event ? `[${id}] ${event.line}` : `[${id}] ready in ${(event.readyMs / 1000).toFixed(1)}s`);
}

/** The Dockerfile's templates; a refused instruction is the user's to fix, not a CLI bug. */
function dockerfile(
  file: string,
  id: string,
  options: Parameters<typeof dockerfileTemplates>[2],
): ReturnType<typeof dockerfileTemplates> {
  try {
    return dockerfileTemplates(file, id, options);
  } catch (err) {
    if (!(err instanceof DockerfileError)) throw err;
    throw new AgentRunError({
      code: 'invalid_request',
      message: err.message,
      remediation: 'use only FROM (AS), RUN, COPY (--from), ADD (local), ENV, ARG, WORKDIR, USER, CMD, ENTRYPOINT',
      context: { file: err.file, line: err.line, instruction: err.instruction },
    });
  }
}

function buildArgs(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) {
    const eq = kv.indexOf('=');
    out[eq < 0 ? kv : kv.slice(0, eq)] = eq < 0 ? (process.env[kv] ?? '') : kv.slice(eq + 1);
  }
  return out;
}

/** --build-egress / --build-allow-cidr as the build posture (absent: the template's own). */
function buildNetwork(flags: BuildFlags): Pick<TemplateBuildOptions, 'buildNetwork'> {
  if (flags.buildEgress === undefined && !flags.buildAllowCidr?.length) return {};
  if (flags.buildEgress !== undefined && !['allow', 'deny'].includes(flags.buildEgress)) {
    throw new AgentRunError({
      code: 'invalid_request',
      message: `--build-egress must be allow or deny, not ${JSON.stringify(flags.buildEgress)}`,
      remediation: 'pass --build-egress allow or --build-egress deny',
    });
  }
  return {
    buildNetwork: {
      egress: flags.buildEgress ?? 'deny',
      ...(flags.buildAllowCidr?.length ? { allow_cidrs: flags.buildAllowCidr } : {}),
    },
  };
}

export function registerTemplateBuild(template: Command): void {
  template
    .command('build')
    .description('build a template: a built-in id, --spec spec.json, or -f Dockerfile [context]')
    .argument('[arg]', 'the template id (no -f/--spec), else the build context directory')
    .option('-f, --file <Dockerfile>', 'build from a Dockerfile')
    .option('--spec <file>', 'build from a SandboxTemplate spec (JSON)')
    .option('-t, --id <id>', 'template id (default: the context directory name)')
    .option('--build-arg <name=value>', 'Dockerfile ARG value (repeatable)', (v: string, p: string[] = []) => [...p, v])
    .option('--no-cache', 'rebuild every step')
    .option('--build-egress <allow|deny>', "build steps' outbound network (default: the template's posture)")
    .option(
      '--build-allow-cidr <cidr[:port]>',
      'an address build steps may reach (repeatable)',
      (v: string, p: string[] = []) => [...p, v],
    )
    .option('-v, --verbose', 'show the output of every step')
    .action(
      action(async (ctx, arg: string | undefined) => {
        const flags = ctx.cmd.opts<BuildFlags>();
        const server = SandboxServer.fromAuth(ctx.client);
        if (!flags.file && !flags.spec) {
          if (!arg) throw new Error('give a template id, --spec spec.json or -f Dockerfile');
          const t = await server.createTemplate(arg);
          if (ctx.json) return void printJson(t);
          const took = t.creationTimeMs === undefined ? '' : ` in ${elapsed(t.creationTimeMs)}`;
          return void println(`built template ${t.id}${took}`);
        }
        const contextDir = resolve(arg ?? (flags.file ? dirname(flags.file) : '.'));
        const id = flags.id ?? basename(contextDir).replace(/[^A-Za-z0-9_-]/g, '-');
        const write = (line: string) => process.stdout.write(`${line}\n`);
        const builds: { id: string; spec: Parameters<SandboxServer['buildTemplate']>[1] }[] = [];
        if (flags.spec) {
          const doc = JSON.parse(readFileSync(flags.spec, 'utf8')) as { spec?: unknown; metadata?: { name?: string } };
          const spec = (doc.spec ?? doc) as Parameters<SandboxServer['buildTemplate']>[1];
          builds.push({ id: flags.id ?? doc.metadata?.name ?? id, spec });
        } else {
          builds.push(
            ...dockerfile(flags.file as string, id, { buildArgs: buildArgs(flags.buildArg), contextDir }).builds,
          );
        }
        let result: { id: string; digest: string } | undefined;
        for (const build of builds) {
          result = await server.buildTemplate(build.id, build.spec, {
            contextDir,
            noCache: flags.cache === false,
            ...buildNetwork(flags),
            onEvent: ctx.json
              ? (e) => write(JSON.stringify(e))
              : progressPrinter(build.id, flags.verbose === true, write),
          });
        }
        if (!ctx.json) println(`built template ${result?.id} (${result?.digest})`);
      }),
    );

  template
    .command('push')
    .description('push a template to an OCI registry as an image (fromImage pulls it back)')
    .argument('<id>', 'template id')
    .argument('<reference>', 'registry/name:tag')
    .action(
      action(async (ctx, id: string, reference: string) => {
        const out = await SandboxServer.fromAuth(ctx.client).pushTemplate(id, reference);
        if (ctx.json) return void printJson(out);
        println(`pushed template ${id} to ${out.reference}`);
      }),
    );

  template
    .command('prune')
    .description('remove cached build steps and images that no template references')
    .action(
      action(async (ctx) => {
        const out = await SandboxServer.fromAuth(ctx.client).pruneTemplates();
        if (ctx.json) return void printJson(out);
        println(`removed ${out.removed.length} cached images, kept ${out.kept}`);
      }),
    );

  template
    .command('rm')
    .alias('delete')
    .description('delete a template (its sandboxes keep running)')
    .argument('<id>', 'template id')
    .action(
      action(async (ctx, id: string) => {
        await SandboxServer.fromAuth(ctx.client).deleteTemplate(id);
        if (ctx.json) return void printJson({ status: 'ok' });
        println(`deleted template ${id}`);
      }),
    );
}
