/**
 * The unmodified E2B SDKs as startup contenders through mitos's E2B surface on loopback:
 * `e2b`'s `Sandbox.create()` (E2B's default `base` template) then the first
 * `commands.run('echo hi')`, and `@e2b/code-interpreter`'s `Sandbox.create()`
 * (`code-interpreter-v1`, our code-interpreter image) then the first `runCode('1 + 1')`. Each is
 * timed until its output is back; the sandbox is killed after the clock stops. The SDKs run in a
 * worker process of their own (clients/e2b-rounds.ts), never on the server's event loop.
 * @module
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import type { E2bWorkload } from '../clients/e2b-rounds.js';
import { nodeClient } from '../clients/run-client.js';
import type { BenchEnv } from '../mitos/bench-env.js';
import type { Contender, RunSample } from '../peers/contender.js';

/** One SDK worker per server; rounds are asked for one at a time. */
class E2bWorker {
  #child: ChildProcessWithoutNullStreams | undefined;
  #lines: AsyncIterator<string> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #stderr = '';

  constructor(private readonly opts: Record<string, unknown>) {}

  round(workload: E2bWorkload): Promise<RunSample> {
    const next = this.#queue.then(() => this.#ask(workload));
    this.#queue = next.catch(() => {});
    return next;
  }

  async #ask(workload: E2bWorkload): Promise<RunSample> {
    if (this.#child === undefined) {
      const child = spawn(process.execPath, [nodeClient('e2b-rounds'), JSON.stringify(this.opts)]);
      child.stderr.on('data', (d) => (this.#stderr = (this.#stderr + d).slice(-4000)));
      const lines: Interface = createInterface({ input: child.stdout });
      this.#child = child;
      this.#lines = lines[Symbol.asyncIterator]();
    }
    this.#child.stdin.write(`${JSON.stringify({ workload })}\n`);
    const { value, done } = await (this.#lines as AsyncIterator<string>).next();
    if (done) throw new Error(`the E2B SDK worker ended: ${this.#stderr.trim()}`);
    const answer = JSON.parse(value) as RunSample | { error: string };
    if ('error' in answer) throw new Error(answer.error);
    return answer;
  }

  /** Ends the worker (its stdin closing ends its loop) and waits for it to exit. */
  async close(): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin.end();
    await exited;
  }
}

/**
 * `baseline`: the same measures against the server of the `--baseline` build (same rounds).
 * `cleanups` gets the worker's close.
 */
export function e2bContenders(env: BenchEnv, cleanups: Array<() => unknown>, baseline = false): Contender[] {
  const worker = new E2bWorker({
    apiKey: env.e2bApiKey,
    apiUrl: `${env.url}/e2b`,
    sandboxUrl: `${env.url}/e2b`,
    timeoutMs: 60_000,
  });
  cleanups.push(() => worker.close());
  const contenders: Contender[] = [
    {
      subject: baseline ? 'baseline' : 'mitos',
      workload: 'echo',
      id: baseline ? 'peer.baseline.e2b.echo' : 'e2b.tti.echo',
      label: `${baseline ? 'baseline build: ' : ''}E2B SDK: Sandbox.create() to first commands.run('echo hi') output`,
      reproduce:
        "E2B_API_URL=<server>/e2b E2B_SANDBOX_URL=<server>/e2b; const sb = await Sandbox.create(); (await sb.commands.run('echo hi')).stdout",
      parts: {
        create: { label: '  of which Sandbox.create() (POST /e2b/v2/sandboxes)', reproduce: 'await Sandbox.create()' },
        firstRun: {
          label: "  of which the first commands.run('echo hi') (Connect stream: bash -l as user)",
          reproduce: "await sb.commands.run('echo hi')",
        },
      },
      note: 'the SDK runs in a worker process of its own, not on the server event loop',
      run: () => worker.round('echo'),
    },
  ];
  // The baseline runs the code interpreter too: its pool's refills (kernels started ahead) load
  // the rounds that follow, and only a server doing the same work is a fair peer.
  return [
    ...contenders,
    {
      subject: baseline ? 'baseline' : 'mitos',
      workload: 'python',
      id: baseline ? 'peer.baseline.e2b.runcode' : 'e2b.tti.runcode',
      label: `${baseline ? 'baseline build: ' : ''}E2B code interpreter: Sandbox.create() to the first runCode('1 + 1') result`,
      reproduce:
        "E2B_API_URL=<server>/e2b E2B_SANDBOX_URL=<server>/e2b; const sb = await Sandbox.create(); (await sb.runCode('1 + 1')).text",
      parts: {
        create: { label: '  of which Sandbox.create() (code-interpreter-v1)', reproduce: 'await Sandbox.create()' },
        firstRun: {
          label: "  of which the first runCode('1 + 1') (waits for the kernel started at create)",
          reproduce: "await sb.runCode('1 + 1')",
        },
      },
      run: () => worker.round('runcode'),
    },
  ];
}
