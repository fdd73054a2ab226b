/**
 * mitos as a startup contender: SDK `create('python')` over loopback, then the first command,
 * timed until its output is back. Terminating the sandbox happens after the clock stops.
 * @module
 */
import type { ExecResult } from '@mitos/sdk';
import type { BenchEnv } from '../mitos/bench-env.js';
import { newSandbox } from '../mitos/client.js';
import { type Contender, WORKLOADS, type Workload } from '../peers/contender.js';

const IDS: Record<Workload, { id: string; label: string }> = {
  echo: { id: 'tti.echo', label: "time to interactive: create('python') to first `echo hi` output" },
  python: { id: 'run.python', label: "create-and-run: create('python') to `python3 -c 'print(2+2)'` output" },
};

/** `baseline`: the same measure against the server of the `--baseline` build. */
export function mitosContender(env: BenchEnv, workload: Workload, baseline = false): Contender {
  const { shell, expected } = WORKLOADS[workload];
  const names = baseline
    ? { id: `peer.baseline.${workload}`, label: `baseline build: ${IDS[workload].label}` }
    : IDS[workload];
  return {
    subject: baseline ? 'baseline' : 'mitos',
    workload,
    ...names,
    reproduce: `const sb = await create('python', { baseUrl }); (await sb.exec(${JSON.stringify(shell)})).stdout`,
    parts: {
      create: {
        label: `  of which create('python') (template check + fork, over HTTP)`,
        reproduce: "await create('python', { baseUrl })",
      },
      engine: {
        label: '  of which engine create, server-measured (cgroup + root snapshot + namespaces + agent ready)',
        reproduce: 'sb.forkTimeMs',
      },
      firstExec: {
        label: `  of which the first exec (${shell})`,
        reproduce: `await sb.exec(${JSON.stringify(shell)})`,
      },
      secondExec: {
        label: `  not included: the same command run again in that sandbox, after the clock stopped`,
        reproduce: `await sb.exec(${JSON.stringify(shell)}) // a second time`,
        note: 'the gap to the first exec is what a cold start of the command costs inside a fresh sandbox',
      },
    },
    async run() {
      const t0 = performance.now();
      const sb = await newSandbox(env);
      const t1 = performance.now();
      let result: ExecResult;
      let t2: number;
      let again: number;
      try {
        result = await sb.exec(shell);
        t2 = performance.now();
        await sb.exec(shell);
        again = performance.now() - t2;
      } finally {
        await sb.terminate().catch(() => {});
      }
      if (result.exitCode !== 0 || result.stdout.trim() !== expected) {
        throw new Error(
          `${shell} in a sandbox exited ${result.exitCode}: ${result.stdout.trim()} ${result.stderr.trim()}`,
        );
      }
      return { ms: t2 - t0, parts: { create: t1 - t0, engine: sb.forkTimeMs, firstExec: t2 - t1, secondExec: again } };
    },
  };
}
