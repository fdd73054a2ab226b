/**
 * mitos as a startup contender: SDK `create('python')` over loopback, then the first command,
 * timed until its output is back. Terminating the sandbox happens after the clock stops. The
 * SDK runs in a process of its own (clients/tti.ts), never on the server's event loop.
 * @module
 */
import { type ChildProcess, fork } from 'node:child_process';
import { nodeClient } from '../clients/run-client.js';
import type { TtiJob, TtiReply, TtiSample } from '../clients/tti.js';
import type { BenchEnv } from '../mitos/bench-env.js';
import { type Contender, WORKLOADS, type Workload } from '../peers/contender.js';

const IDS: Record<Workload, { id: string; label: string }> = {
  echo: { id: 'tti.echo', label: "time to interactive: create('python') to first `echo hi` output" },
  python: { id: 'run.python', label: "create-and-run: create('python') to `python3 -c 'print(2+2)'` output" },
};

/** `baseline`: the same measure against the server of the `--baseline` build. */
export function mitosContender(env: BenchEnv, workload: Workload, baseline = false): Contender {
  const { shell, expected } = WORKLOADS[workload];
  const client = ttiClient({ url: env.url, apiKey: env.apiKey, shell });
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
      const { ms, parts, result } = await client.run();
      if (result.exitCode !== 0 || result.stdout.trim() !== expected) {
        throw new Error(
          `${shell} in a sandbox exited ${result.exitCode}: ${result.stdout.trim()} ${result.stderr.trim()}`,
        );
      }
      return { ms, parts };
    },
    close: () => client.close(),
  };
}

/** The client process (started on the first run), asked for one timed run at a time. */
function ttiClient(job: TtiJob): { run(): Promise<TtiSample>; close(): void } {
  let child: ChildProcess | undefined;
  const start = (): ChildProcess => {
    const c = fork(nodeClient('tti'), [JSON.stringify(job)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    c.once('exit', () => {
      if (child === c) child = undefined;
    });
    return c;
  };
  return {
    run() {
      child ??= start();
      const c = child;
      return new Promise((resolve, reject) => {
        const onExit = (code: number | null) => reject(new Error(`the tti client exited (${code})`));
        c.once('exit', onExit);
        c.once('message', (reply: TtiReply) => {
          c.off('exit', onExit);
          if (reply.ok) resolve(reply.sample);
          else reject(new Error(reply.error));
        });
        c.send('run');
      });
    },
    close() {
      if (child?.connected) child.disconnect();
    },
  };
}
