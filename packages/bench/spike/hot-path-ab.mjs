#!/usr/bin/env node
// Before/after of the hot path in ONE run: two servers on two engines, one from another built
// checkout (the "before", e.g. main) and one from this build, each driven by its own build's
// TS SDK from one client process, call by call in turn (so the machine's load lands on both
// alike). Figures: exec `true` round trip, time to interactive (create + first exec), fork(1)
// then exec in the child, fork(16) then exec in all, and 32-caller exec throughput (blocks
// in turn). Run after `npm run build` in both checkouts, as root:
//
//   node packages/bench/spike/hot-path-ab.mjs BEFORE_CHECKOUT [ROUNDS] [--split] [--fork] [--slots=N]    (default 200)
//
// --fork measures only the fork rows (fork(1) + exec: ROUNDS/10 rounds; fork(16): ROUNDS/50).
// --slots=N: the after side's fork slots (default: the bench's, as mitos serve; the before side
// may not know the option).
//
// Caution: both servers run in this one process, and two copies of @hono/node-server in one
// process overwrite each other's global Response, so one side's answers take the adapter's
// slow path; http-ab.mjs gives each server its own process.
//
// --split adds a third side: the "before" SDK against this build's server, which tells the
// server's share of a difference from the SDK's.
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const after = resolve(here, '../../..');
const sdkOf = (checkout) => pathToFileURL(resolve(checkout, 'packages/sdk/dist/index.js')).href;

if (process.argv[2] === '--client') await client(JSON.parse(process.argv[3]));
else {
  const flags = new Set(process.argv.slice(3).filter((a) => a.startsWith('--')));
  const rounds = Number(process.argv.slice(3).find((a) => !a.startsWith('--')) ?? 200);
  const slots = process.argv.find((a) => a.startsWith('--slots='));
  await parent(resolve(process.argv[2] ?? ''), rounds, flags.has('--split'), flags.has('--fork'), slots && Number(slots.slice(8)));
}

async function parent(before, rounds, split, forkOnly, forkSlots) {
  const { startBenchEnv } = await import('../dist/mitos/bench-env.js');
  const envs = [];
  try {
    envs.push(await startBenchEnv(2, before));
    envs.push(await startBenchEnv(2, undefined, forkSlots === undefined ? {} : { forkSlots }));
    for (const env of envs) await env.engine.ensureTemplate({ id: 'python' });
    // Let the pools fill before anything is timed.
    for (const env of envs) await env.engine.pool.settle();
    const load = loadavg().map((l) => l.toFixed(2)).join(' ');
    const job = {
      rounds,
      forkOnly,
      sides: [
        { name: 'before', sdk: sdkOf(before), url: envs[0].url, apiKey: envs[0].apiKey },
        { name: 'after', sdk: sdkOf(after), url: envs[1].url, apiKey: envs[1].apiKey },
        ...(split ? [{ name: 'before SDK, after server', sdk: sdkOf(before), url: envs[1].url, apiKey: envs[1].apiKey }] : []),
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
    console.log(`load average at start: ${load}; at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(out);
  } finally {
    for (const env of envs) await env.close();
  }
}

async function client(job) {
  const sides = [];
  for (const s of job.sides) {
    const sdk = await import(s.sdk);
    sides.push({ ...s, sdk, opts: { baseUrl: s.url, apiKey: s.apiKey } });
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const p95 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)];
  const rows = [];
  /** `fn(side)` for each side in turn, `n` rounds after `warm` untimed ones. */
  const interleave = async (label, n, warm, fn) => {
    const times = sides.map(() => []);
    for (let i = 0; i < warm + n; i++) {
      for (const [k, side] of sides.entries()) {
        const t = performance.now();
        // A number returned is the figure itself (the clock stopped before some clean-up).
        const own = await fn(side);
        if (i >= warm) times[k].push(typeof own === 'number' ? own : performance.now() - t);
      }
    }
    rows.push(`| ${label} | ${times.map((t) => `${median(t).toFixed(2)} (p95 ${p95(t).toFixed(2)})`).join(' | ')} | ${n} |`);
  };
  const held = await Promise.all(sides.map((s) => s.sdk.create('python', s.opts)));
  sides.forEach((s, k) => (s.sb = held[k]));
  if (!job.forkOnly) await execRows(job, sides, interleave);
  await interleave('fork(1) + exec in the child, ms', job.forkOnly ? Math.ceil(job.rounds / 10) : 20, 2, async (s) => {
    const t = performance.now();
    const [child] = await s.sb.fork(1);
    await child.exec('true');
    const ms = performance.now() - t;
    await child.terminate();
    return ms;
  });
  await interleave('fork(16) + exec in all, ms', job.forkOnly ? Math.ceil(job.rounds / 50) : 4, 1, async (s) => {
    const t = performance.now();
    const kids = await s.sb.fork(16);
    await Promise.all(kids.map((k) => k.exec('true')));
    const ms = performance.now() - t;
    await Promise.all(kids.map((k) => k.terminate()));
    return ms;
  });
  if (!job.forkOnly) rows.push(await throughputRow(sides, median));
  await Promise.all(sides.map((s) => s.sb.terminate()));
  console.log(`| figure | ${sides.map((s) => s.name).join(' | ')} | n |`);
  console.log(`|---|${sides.map(() => '---:').join('|')}|---:|`);
  for (const r of rows) console.log(r);
}

async function execRows(job, sides, interleave) {
  await interleave('exec `true` round trip, ms', job.rounds, 20, async (s) => {
    if ((await s.sb.exec('true')).exitCode !== 0) throw new Error('true failed');
  });
  await interleave('create + first `echo hi` (TTI), ms', 30, 3, async (s) => {
    const t = performance.now();
    const sb = await s.sdk.create('python', s.opts);
    const out = await sb.exec('echo hi');
    const ms = performance.now() - t;
    if (out.stdout !== 'hi\n') throw new Error('echo failed');
    await sb.terminate();
    return ms;
  });
}

async function throughputRow(sides, median) {
  const rates = sides.map(() => []);
  for (let block = 0; block < 4; block++) {
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
  return `| exec throughput, 32 callers, calls/s (3 blocks of 3 s) | ${rates.map((r) => `${median(r).toFixed(0)} (${r.map((x) => x.toFixed(0)).join(', ')})`).join(' | ')} | 3 |`;
}
