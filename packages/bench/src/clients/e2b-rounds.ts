/**
 * The unmodified E2B SDKs in a process of their own, so the server's event loop (the bench's main
 * process) serves requests and nothing else. A long-lived worker: its keep-alive connections
 * last across rounds as an SDK user's would. One JSON line on stdin asks for a round, one JSON
 * line on stdout answers it; stdin's end ends the worker.
 *
 * usage: node e2b-rounds.js '{"apiKey":…,"apiUrl":…,"sandboxUrl":…,"timeoutMs":N}'
 * round: {"workload":"echo"|"runcode"} -> {"ms":…,"parts":{"create":…,"firstRun":…}} or {"error":"…"}
 * @module
 */
import { createInterface } from 'node:readline';
import { Sandbox as CodeSandbox } from '@e2b/code-interpreter';
import { Sandbox } from 'e2b';
import type { RunSample } from '../peers/contender.js';

export type E2bWorkload = 'echo' | 'runcode';

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

function round(workload: E2bWorkload, opts: Record<string, unknown>): Promise<RunSample> {
  if (workload === 'echo') {
    return timeFirstCall(
      () => Sandbox.create(opts),
      async (sb) => (await sb.commands.run('echo hi')).stdout,
      'hi\n',
      'echo hi',
    );
  }
  return timeFirstCall(
    () => CodeSandbox.create(opts),
    async (sb) => (await sb.runCode('1 + 1')).text,
    '2',
    "runCode('1 + 1')",
  );
}

async function main(opts: Record<string, unknown>): Promise<void> {
  for await (const line of createInterface({ input: process.stdin })) {
    const { workload } = JSON.parse(line) as { workload: E2bWorkload };
    const answer = await round(workload, opts).then(
      (sample) => sample,
      (err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }),
    );
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  }
}

main(JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
