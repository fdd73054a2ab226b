/**
 * The unmodified `@e2b/code-interpreter` SDK as a startup contender: `Sandbox.create()` (its
 * default `code-interpreter-v1`, our python template) through mitos's E2B surface on loopback,
 * then the first `runCode('1 + 1')`, timed until its result is back (the kernel starts on it).
 * @module
 */
import { Sandbox } from '@e2b/code-interpreter';
import type { BenchEnv } from '../mitos/bench-env.js';
import type { Contender } from '../peers/contender.js';

export function e2bRunCodeContender(env: BenchEnv): Contender {
  const opts = { apiKey: env.e2bApiKey, apiUrl: `${env.url}/e2b`, sandboxUrl: `${env.url}/e2b`, timeoutMs: 60_000 };
  return {
    subject: 'mitos',
    workload: 'python',
    id: 'e2b.tti.runcode',
    label: "E2B code interpreter: Sandbox.create() to the first runCode('1 + 1') result",
    reproduce:
      "E2B_API_URL=<server>/e2b E2B_SANDBOX_URL=<server>/e2b; const sb = await Sandbox.create(); (await sb.runCode('1 + 1')).text",
    parts: {
      create: { label: '  of which Sandbox.create() (code-interpreter-v1)', reproduce: 'await Sandbox.create()' },
      firstRun: {
        label: "  of which the first runCode('1 + 1') (starts the python kernel)",
        reproduce: "await sb.runCode('1 + 1')",
      },
    },
    async run() {
      const t0 = performance.now();
      const sb = await Sandbox.create(opts);
      const t1 = performance.now();
      let text: string | undefined;
      let t2: number;
      try {
        text = (await sb.runCode('1 + 1')).text;
        t2 = performance.now();
      } finally {
        await sb.kill().catch(() => {});
      }
      if (text !== '2') throw new Error(`runCode('1 + 1') through the E2B SDK answered ${JSON.stringify(text)}`);
      return { ms: t2 - t0, parts: { create: t1 - t0, firstRun: t2 - t1 } };
    },
  };
}
