/**
 * The `mitos` command as a whole process, the way a person or a script runs it: node start-up,
 * the command tree, the HTTP calls and the exit. Timed like the peers' `podman run` (spawn to
 * output, spawn to exit), in the same interleaved rounds, so the ratio is like for like.
 * @module
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { timeExpecting } from '../host/spawn-timing.js';
import type { BenchEnv } from '../mitos/bench-env.js';
import { type Contender, WORKLOADS } from '../peers/contender.js';

const CLI = fileURLToPath(new URL('../../../cli/dist/main.cjs', import.meta.url));

/**
 * The environment of a timed `mitos` process: this run's server and key, and a code cache of
 * the run's own (under its state directory, removed with it) so the bench never writes to the
 * user's ~/.cache. Untimed warm-up rounds fill it, as a user's first command would.
 */
function cliEnvOf(env: BenchEnv): NodeJS.ProcessEnv {
  return {
    ...process.env,
    MITOS_BASE_URL: env.url,
    MITOS_API_KEY: env.apiKey,
    XDG_CACHE_HOME: join(env.stateDir, 'cli-cache'),
  };
}

export function cliContenders(env: BenchEnv): Contender[] {
  const { argv, shell, expected } = WORKLOADS.python;
  const cliEnv = cliEnvOf(env);
  const pkg = JSON.parse(readFileSync(new URL('../../../cli/package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  const version = pkg.version;
  return [
    {
      subject: 'mitos',
      workload: 'python',
      id: 'cli.run.python',
      label: `\`mitos run -- ${shell}\` as a whole process, to output`,
      reproduce: `MITOS_BASE_URL=... node packages/cli/dist/main.cjs run -- ${shell}`,
      parts: { exit: { label: `\`mitos run -- ${shell}\` to exit (includes the terminate)` } },
      async run() {
        const t = await timeExpecting(
          { command: process.execPath, args: [CLI, 'run', '--', ...argv], env: cliEnv },
          expected,
        );
        return { ms: t.firstOutputMs, parts: { exit: t.exitMs } };
      },
    },
    {
      subject: 'mitos',
      workload: 'python',
      id: 'cli.run.python.first',
      label: `\`mitos run -- ${shell}\` with no code cache yet (a first run after an install: compiles the bundle, then writes its cache), to exit`,
      reproduce: `XDG_CACHE_HOME=$(mktemp -d) MITOS_BASE_URL=... node packages/cli/dist/main.cjs run -- ${shell}`,
      async run() {
        const cache = mkdtempSync(join(tmpdir(), 'mitos-bench-cli-cache-'));
        try {
          const t = await timeExpecting(
            { command: process.execPath, args: [CLI, 'run', '--', ...argv], env: { ...cliEnv, XDG_CACHE_HOME: cache } },
            expected,
          );
          return { ms: t.exitMs };
        } finally {
          rmSync(cache, { recursive: true, force: true });
        }
      },
    },
    {
      subject: 'mitos',
      workload: 'echo',
      id: 'cli.version',
      label: '`mitos --version` as a whole process, to exit',
      reproduce: 'node packages/cli/dist/main.cjs --version',
      async run() {
        const t = await timeExpecting({ command: process.execPath, args: [CLI, '--version'], env: cliEnv }, version);
        return { ms: t.exitMs };
      },
    },
    {
      subject: 'host',
      workload: 'echo',
      id: 'cli.node-baseline',
      label: 'bare `node -e 0` (the floor any node command starts from), to exit',
      reproduce: 'node -e 0',
      async run() {
        const t = await timeExpecting({ command: process.execPath, args: ['-e', 'process.stdout.write("hi")'] }, 'hi');
        return { ms: t.exitMs };
      },
    },
  ];
}

/**
 * The `--baseline` checkout's `mitos run` against this run's server, in the same rounds: the
 * client before and after, with the server and the machine's moment the same.
 */
export function cliBaselineContender(env: BenchEnv, baselineDir: string): Contender {
  const { argv, shell, expected } = WORKLOADS.python;
  const cjs = join(baselineDir, 'packages/cli/dist/main.cjs');
  const cli = existsSync(cjs) ? cjs : join(baselineDir, 'packages/cli/dist/main.js');
  const cliEnv = cliEnvOf(env);
  return {
    subject: 'baseline',
    workload: 'python',
    id: 'peer.baseline.cli.run.python',
    label: `baseline build: \`mitos run -- ${shell}\` as a whole process, to exit (same server)`,
    reproduce: `MITOS_BASE_URL=... node <baseline>/packages/cli/dist/main.js run -- ${shell}`,
    async run() {
      const t = await timeExpecting(
        { command: process.execPath, args: [cli, 'run', '--', ...argv], env: cliEnv },
        expected,
      );
      return { ms: t.exitMs };
    },
  };
}
