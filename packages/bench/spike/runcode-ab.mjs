#!/usr/bin/env node
// run_code's first call, before/after in the same run: the bench's server of this build (the
// default: kernels started ahead where run_code is in recent use) and of a BASELINE build
// (a built checkout, e.g. a `git archive` of main), each its own engine and warm pool, measured
// in turn, round after round. Per round and server, once the python and code-interpreter pools
// are full and settled (not timed):
//   first   SDK create('python'), exec('true'), then the timed first runCode('1+1') (the bench's runcode.first)
//   tti     SDK create('python') to the first runCode('1+1') answer, nothing in between
//   e2b     @e2b/code-interpreter Sandbox.create() to the first runCode('1 + 1') (bench e2b.tti.runcode)
// and, on this build only, in the engine's process (no HTTP): engine.create then engine.runCode
// at once (`engine`: the cell waits for the hand-out's identity cell) and after 50 ms
// (`engine+50`: it has finished), which shows what the identity cell costs a first call.
// Before the rounds, one runCode in a python sandbox of each server (what turns this build's
// python pool on). Run after `npm run build`, as root:
//
//   node packages/bench/spike/runcode-ab.mjs BASELINE_DIR [ROUNDS]     (default 15)
import { loadavg } from 'node:os';
import { Sandbox as CodeSandbox } from '@e2b/code-interpreter';
import { create } from '@mitos/sdk';
import { startBenchEnv } from '../dist/mitos/bench-env.js';

const baselineDir = process.argv[2];
if (!baselineDir) throw new Error('usage: runcode-ab.mjs BASELINE_DIR [ROUNDS]');
const rounds = Number(process.argv[3] ?? 15);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const p95 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))] ?? Number.NaN;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

async function settled(env) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ts = env.engine.pool.status().templates.filter((t) => ['python', 'code-interpreter'].includes(t.template));
    if (ts.length === 2 && ts.every((t) => t.ready >= 2 && !t.refilling)) return;
    if (Date.now() > deadline) throw new Error('pools did not settle in 120 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function timedRunCode(sb) {
  const t = performance.now();
  const r = await sb.runCode('1+1');
  if (r.text !== '2') throw new Error(`runCode answered ${JSON.stringify(r.text)}`);
  return performance.now() - t;
}

const servers = [];
try {
  servers.push({ name: 'before', env: await startBenchEnv(2, baselineDir) });
  servers.push({ name: 'after', env: await startBenchEnv(2) });
  for (const { env } of servers) {
    await create('python', { baseUrl: env.url, apiKey: env.apiKey, timeoutMs: 0 }).then((sb) => sb.terminate());
    await env.engine.ensureTemplate({ id: 'code-interpreter' });
    const sb = await create('python', { baseUrl: env.url, apiKey: env.apiKey });
    await timedRunCode(sb);
    await sb.terminate();
  }
  const times = {};
  const add = (key, ms) => {
    times[key] ??= [];
    times[key].push(ms);
  };
  const loads = [load()];
  for (let round = 0; round < rounds; round++) {
    for (const { name, env } of servers) {
      const opts = { baseUrl: env.url, apiKey: env.apiKey };
      await settled(env);
      let sb = await create('python', opts);
      await sb.exec('true');
      add(`${name} first`, await timedRunCode(sb));
      await sb.terminate();

      await settled(env);
      let t = performance.now();
      sb = await create('python', opts);
      await timedRunCode(sb);
      add(`${name} tti`, performance.now() - t);
      await sb.terminate();

      await settled(env);
      const e2b = { apiKey: env.e2bApiKey, apiUrl: `${env.url}/e2b`, sandboxUrl: `${env.url}/e2b`, timeoutMs: 60_000 };
      t = performance.now();
      const cs = await CodeSandbox.create(e2b);
      const created = performance.now();
      const out = await cs.runCode('1 + 1');
      if (out.text !== '2') throw new Error(`e2b runCode answered ${JSON.stringify(out.text)}`);
      add(`${name} e2b`, performance.now() - t);
      add(`${name} e2b first runCode`, performance.now() - created);
      await cs.kill();

      if (name === 'after') {
        for (const pause of [0, 50]) {
          await settled(env);
          const id = `ab-${round}-${pause}`;
          await env.engine.create({ id, templateId: 'python' });
          if (pause) await new Promise((r) => setTimeout(r, pause));
          const t0 = performance.now();
          const r = await env.engine.runCode(id, { code: '1+1', language: 'python', timeoutMs: 30_000 });
          if (r.results[0]?.text !== '2') throw new Error('engine runCode failed');
          add(pause ? 'after engine+50' : 'after engine', performance.now() - t0);
          await env.engine.terminate(id);
        }
      }
    }
  }
  loads.push(load());
  console.log(`rounds ${rounds}; load average ${loads.join(' -> ')}`);
  for (const [key, xs] of Object.entries(times))
    console.log(`${key.padEnd(28)} median ${median(xs).toFixed(2)} ms  p95 ${p95(xs).toFixed(2)} ms  (n=${xs.length})`);
  for (const { name, env } of servers) {
    const sb = await create('python', { baseUrl: env.url, apiKey: env.apiKey });
    console.log(`${name}: unique memory of a fresh python sandbox ${((await env.engine.usage(sb.id)).memory.uniqueBytes / 2 ** 20).toFixed(2)} MiB`);
    await sb.terminate();
  }
} finally {
  for (const { env } of servers.reverse()) await env.close();
}
