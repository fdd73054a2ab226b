#!/usr/bin/env node
// What a first run_code on a sandbox from the pool (python kernel started ahead) waits for, in
// the engine's process (no HTTP): per round, with the pool full and settled, create then
//   at-once   runCode('1+1') at once
//   exec      exec('true') first (timed apart), then runCode
//   pause     a 50 ms pause, then runCode
//   warm      a second runCode in the same sandbox
//   probe     an agent ping, a kernel ping (the relay to its socket), then two runCodes, each timed
//             (reaches the engine's agents, which are not part of the Engine interface)
// Run after `npm run build`, as root:
//
//   node packages/bench/spike/runcode-first-phases.mjs [ROUNDS]     (default 20)
import { loadavg } from 'node:os';
import { startBenchEnv } from '../dist/mitos/bench-env.js';

const rounds = Number(process.argv[2] ?? 20);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

const env = await startBenchEnv(2, undefined, { warmKernels: true });
const { engine } = env;
const settled = async () => {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const t = engine.pool.status().templates.find((x) => x.template === 'python');
    if (t && t.ready >= 2 && !t.refilling) return;
    if (Date.now() > deadline) throw new Error('pool did not settle');
    await new Promise((r) => setTimeout(r, 20));
  }
};
const cell = async (id) => {
  const t = performance.now();
  const r = await engine.runCode(id, { code: '1+1', language: 'python', timeoutMs: 30_000 });
  if (r.results[0]?.text !== '2') throw new Error('runCode failed');
  return performance.now() - t;
};
const times = {};
const add = (k, v) => {
  times[k] ??= [];
  times[k].push(v);
};
try {
  await engine.ensureTemplate({ id: 'python' });
  const loads = [load()];
  for (let round = 0; round < rounds; round++) {
    for (const variant of ['at-once', 'exec', 'pause', 'probe']) {
      await settled();
      const id = `ph-${round}-${variant}`;
      const t0 = performance.now();
      await engine.create({ id, templateId: 'python' });
      add('create', performance.now() - t0);
      if (variant === 'exec') {
        const t = performance.now();
        await engine.exec(id, { command: 'true', timeoutMs: 10_000 });
        add('exec first', performance.now() - t);
      }
      if (variant === 'pause') await new Promise((r) => setTimeout(r, 50));
      if (variant === 'probe') {
        let t = performance.now();
        await engine.agents.client(id).ping();
        add('probe agent ping', performance.now() - t);
        t = performance.now();
        await engine.agents.kernels.ping(id, 'python');
        add('probe kernel ping', performance.now() - t);
        t = performance.now();
        await engine.agents.kernels.ping(id, 'python');
        add('probe kernel ping 2', performance.now() - t);
      }
      add(`runCode ${variant}`, await cell(id));
      if (variant === 'at-once') add('runCode warm', await cell(id));
      await engine.terminate(id);
    }
  }
  loads.push(load());
  console.log(`rounds ${rounds}; load average ${loads.join(' -> ')}`);
  for (const [k, xs] of Object.entries(times)) console.log(`${k.padEnd(18)} median ${median(xs).toFixed(2)} ms (n=${xs.length})`);
} finally {
  await env.close();
}
