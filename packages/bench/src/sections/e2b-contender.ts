/**
 * The unmodified `e2b` SDK as a startup contender: `Sandbox.create()` (E2B's default `base`
 * template) through mitos's E2B surface on loopback, then the first `commands.run('echo hi')`,
 * timed until its output is back. The sandbox is killed after the clock stops.
 * @module
 */
import { Sandbox } from 'e2b';
import type { BenchEnv } from '../mitos/bench-env.js';
import type { Contender } from '../peers/contender.js';

export function e2bContender(env: BenchEnv): Contender {
  const opts = { apiKey: env.e2bApiKey, apiUrl: `${env.url}/e2b`, sandboxUrl: `${env.url}/e2b`, timeoutMs: 60_000 };
  return {
    subject: 'mitos',
    workload: 'echo',
    id: 'e2b.tti.echo',
    label: "E2B SDK: Sandbox.create() to first commands.run('echo hi') output",
    reproduce:
      "E2B_API_URL=<server>/e2b E2B_SANDBOX_URL=<server>/e2b; const sb = await Sandbox.create(); (await sb.commands.run('echo hi')).stdout",
    parts: {
      create: { label: '  of which Sandbox.create() (POST /e2b/v2/sandboxes)', reproduce: 'await Sandbox.create()' },
      firstRun: {
        label: "  of which the first commands.run('echo hi') (Connect stream; waits for the user account)",
        reproduce: "await sb.commands.run('echo hi')",
      },
    },
    async run() {
      const t0 = performance.now();
      const sb = await Sandbox.create(opts);
      const t1 = performance.now();
      let stdout: string;
      let t2: number;
      try {
        stdout = (await sb.commands.run('echo hi')).stdout;
        t2 = performance.now();
      } finally {
        await sb.kill().catch(() => {});
      }
      if (stdout !== 'hi\n') throw new Error(`echo hi through the E2B SDK printed ${JSON.stringify(stdout)}`);
      return { ms: t2 - t0, parts: { create: t1 - t0, firstRun: t2 - t1 } };
    },
  };
}
