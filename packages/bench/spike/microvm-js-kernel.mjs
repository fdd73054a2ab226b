// Does a javascript kernel start in a VM from the warm pool as in a cold-restored one?
//   node packages/bench/spike/microvm-js-kernel.mjs [pooled|cold] [ROUNDS]
import { microvmTestEnv } from '@mitos/testkit';

const mode = process.argv[2] ?? 'pooled';
const env = microvmTestEnv({ poolSize: mode === 'cold' ? 0 : 1 });
const engine = await env.open();
try {
  let t = performance.now();
  await engine.ensureTemplate({ id: 'node' });
  console.log(`template ready ${Math.round(performance.now() - t)} ms`);
  for (let i = 0; i < Number(process.argv[3] ?? 3); i++) {
    if (mode !== 'cold') {
      t = performance.now();
      while (engine.pooledVmPids().length === 0) await new Promise((r) => setTimeout(r, 50));
      console.log(`pool ready ${Math.round(performance.now() - t)} ms`);
    }
    const pooled = engine.pooledVmPids?.() ?? [];
    const id = `js-${i}`;
    t = performance.now();
    await engine.create({ id, templateId: 'node' });
    console.log(`create ${Math.round(performance.now() - t)} ms, from the pool: ${pooled.includes(engine.vmPid(id))}`);
    t = performance.now();
    const r = await engine.runCode(id, { code: 'let total = 1; total + 1', timeoutMs: 30_000, language: 'javascript' });
    console.log(`first js cell ${Math.round(performance.now() - t)} ms`, r.exitCode, r.results?.[0]?.text, r.error);
    await engine.terminate(id);
  }
} catch (err) {
  console.log('failed', err.message, err.detail);
} finally {
  await env.cleanup();
  console.log(`load ${(await import('node:os')).loadavg()[0].toFixed(1)}`);
}
