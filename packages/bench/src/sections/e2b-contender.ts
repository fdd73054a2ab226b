/**
 * The unmodified E2B SDKs as startup contenders through mitos's E2B surface on loopback:
 * `e2b`'s `Sandbox.create()` (E2B's default `base` template) then the first
 * `commands.run('echo hi')`, and `@e2b/code-interpreter`'s `Sandbox.create()`
 * (`code-interpreter-v1`, our code-interpreter image) then the first `runCode('1 + 1')`. Each is
 * timed until its output is back; the sandbox is killed after the clock stops.
 * @module
 */
import { Sandbox as CodeSandbox } from '@e2b/code-interpreter';
import { Sandbox } from 'e2b';
import type { BenchEnv } from '../mitos/bench-env.js';
import type { Contender, RunSample } from '../peers/contender.js';

interface Killable {
  kill(): Promise<unknown>;
}

/** create, then the first call; both timed, the sandbox killed after the clock stops. */
async function timeFirstCall<S extends Killable>(
  create: () => Promise<S>,
  first: (sb: S) => Promise<string | undefined>,
  expected: string,
  what: string,
): Promise<RunSample> {
  const t0 = performance.now();
  const sb = await create();
  const t1 = performance.now();
  let out: string | undefined;
  let t2: number;
  try {
    out = await first(sb);
    t2 = performance.now();
  } finally {
    await sb.kill().catch(() => {});
  }
  if (out !== expected) throw new Error(`${what} through the E2B SDK answered ${JSON.stringify(out)}`);
  return { ms: t2 - t0, parts: { create: t1 - t0, firstRun: t2 - t1 } };
}

/** `baseline`: the same measures against the server of the `--baseline` build (same rounds). */
export function e2bContenders(env: BenchEnv, baseline = false): Contender[] {
  const opts = { apiKey: env.e2bApiKey, apiUrl: `${env.url}/e2b`, sandboxUrl: `${env.url}/e2b`, timeoutMs: 60_000 };
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
          label: "  of which the first commands.run('echo hi') (Connect stream: setpriv + bash -l)",
          reproduce: "await sb.commands.run('echo hi')",
        },
      },
      run: () =>
        timeFirstCall(
          () => Sandbox.create(opts),
          async (sb) => (await sb.commands.run('echo hi')).stdout,
          'hi\n',
          'echo hi',
        ),
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
      run: () =>
        timeFirstCall(
          () => CodeSandbox.create(opts),
          async (sb) => (await sb.runCode('1 + 1')).text,
          '2',
          "runCode('1 + 1')",
        ),
    },
  ];
}
