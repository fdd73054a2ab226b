#!/usr/bin/env node
// Before/after of what HTTP, the server and the SDK add to a call, in ONE run. Each side's
// server runs in a process of its own, from its own built checkout (two copies of
// @hono/node-server in one process would fight over the global Response, sending one side's
// answers down the adapter's slow path), and one client process drives both with each side's
// own SDK, call by call in turn, so the machine's load lands on both alike. httpx (the seed
// Python SDK's client) runs in blocks, side by side in turn. Run after `npm run build` in both
// checkouts, as root:
//
//   node packages/bench/spike/http-ab.mjs BEFORE_CHECKOUT [ROUNDS]      (default 300)
//
// Rows: exec `true` round trip (TS SDK), exec with httpx, time to interactive (create + first
// exec), 32-caller exec throughput (blocks in turn).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const after = resolve(here, '../../..');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p95 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)];
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

if (process.argv[2] === '--serve') await serve(process.argv[3]);
else if (process.argv[2] === '--client') await client(JSON.parse(process.argv[3]));
else await parent(resolve(process.argv[2] ?? ''), Number(process.argv[3] ?? 300));

/** One side's server on its own engine, in this process; ends when stdin closes. */
async function serve(checkout) {
  const { startBenchEnv } = await import(pathToFileURL(resolve(checkout, 'packages/bench/dist/mitos/bench-env.js')).href);
  const env = await startBenchEnv(2);
  try {
    await env.engine.ensureTemplate({ id: 'python' });
    await env.engine.pool.settle();
    process.stdout.write(`${JSON.stringify({ url: env.url, apiKey: env.apiKey })}\n`);
    await new Promise((r) => {
      process.stdin.on('end', r);
      process.stdin.on('close', r);
      process.stdin.resume();
    });
  } finally {
    await env.close();
  }
  process.exit(0);
}

function startServe(checkout) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', checkout], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise((r) => child.on('exit', r));
  const ready = new Promise((ok, fail) => {
    createInterface({ input: child.stdout }).once('line', (line) => ok(JSON.parse(line)));
    child.once('exit', (code) => fail(new Error(`server for ${checkout} exited ${code}`)));
  });
  return { child, ready, stop: () => (child.stdin.end(), exited) };
}

async function parent(before, rounds) {
  const servers = [startServe(before), startServe(after)];
  try {
    const [b, a] = await Promise.all(servers.map((s) => s.ready));
    const startLoad = load();
    const job = {
      rounds,
      sides: [
        { name: `before (${before})`, sdk: pathToFileURL(resolve(before, 'packages/sdk/dist/index.js')).href, ...b },
        { name: 'after (this build)', sdk: pathToFileURL(resolve(after, 'packages/sdk/dist/index.js')).href, ...a },
      ],
    };
    const out = await new Promise((ok, fail) => {
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--client', JSON.stringify(job)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.on('exit', (code) => (code === 0 ? ok(text) : fail(new Error(`client exited ${code}`))));
    });
    console.log(`load average at start: ${startLoad}; at end: ${load()}`);
    console.log(out);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

async function client(job) {
  const sides = [];
  for (const s of job.sides) {
    const sdk = await import(s.sdk);
    sides.push({ ...s, sdk, opts: { baseUrl: s.url, apiKey: s.apiKey } });
  }
  const rows = [];
  const cell = (t) => `${median(t).toFixed(2)} (p95 ${p95(t).toFixed(2)})`;
  const interleave = async (label, n, warm, fn) => {
    const times = sides.map(() => []);
    for (let i = 0; i < warm + n; i++) {
      for (const [k, side] of sides.entries()) {
        const t = performance.now();
        const own = await fn(side);
        if (i >= warm) times[k].push(typeof own === 'number' ? own : performance.now() - t);
      }
    }
    rows.push(`| ${label} | ${times.map(cell).join(' | ')} | ${n} |`);
  };
  const held = await Promise.all(sides.map((s) => s.sdk.create('python', s.opts)));
  sides.forEach((s, k) => (s.sb = held[k]));
  await interleave('exec `true` round trip (TS SDK), ms', job.rounds, 30, async (s) => {
    if ((await s.sb.exec('true')).exitCode !== 0) throw new Error('true failed');
  });
  rows.push(await httpxRow(sides, Math.max(50, Math.floor(job.rounds / 3))));
  await interleave('create + first `true` (TTI), ms', 40, 4, async (s) => {
    const t = performance.now();
    const sb = await s.sdk.create('python', s.opts);
    await sb.exec('true');
    const ms = performance.now() - t;
    await sb.terminate();
    return ms;
  });
  rows.push(await throughputRow(sides));
  await Promise.all(sides.map((s) => s.sb.terminate()));
  console.log(`| figure | ${sides.map((s) => s.name).join(' | ')} | n |`);
  console.log(`|---|${sides.map(() => '---:').join('|')}|---:|`);
  for (const r of rows) console.log(r);
}

/** httpx exec round trips, blocks of `per` in turn per side (3 blocks each, the first untimed). */
async function httpxRow(sides, per) {
  const script = resolve(here, '../clients/httpx_exec.py');
  const samples = sides.map(() => []);
  for (let block = 0; block < 4; block++) {
    for (const [k, s] of sides.entries()) {
      const out = await new Promise((ok, fail) => {
        const child = spawn('/usr/bin/python3', [script, s.url, s.apiKey, s.sb.id, String(per), '10'], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let text = '';
        child.stdout.on('data', (d) => (text += d));
        child.on('exit', (code) => (code === 0 ? ok(JSON.parse(text)) : fail(new Error(`httpx exited ${code}`))));
      });
      if (block > 0) samples[k].push(...out.samples);
    }
  }
  return `| exec \`true\` round trip (httpx), ms | ${samples.map((t) => `${median(t).toFixed(2)} (p95 ${p95(t).toFixed(2)})`).join(' | ')} | ${samples[0].length} |`;
}

async function throughputRow(sides) {
  const rates = sides.map(() => []);
  for (let block = 0; block < 5; block++) {
    for (const [k, s] of sides.entries()) {
      let calls = 0;
      const until = performance.now() + 3000;
      const t = performance.now();
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (performance.now() < until) {
            await s.sb.exec('true');
            calls++;
          }
        }),
      );
      if (block > 0) rates[k].push(calls / ((performance.now() - t) / 1000));
    }
  }
  return `| exec throughput, 32 callers, calls/s (4 blocks of 3 s each) | ${rates.map((r) => `${median(r).toFixed(0)} (${r.map((x) => x.toFixed(0)).join(', ')})`).join(' | ')} | 4 |`;
}
