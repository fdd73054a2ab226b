#!/usr/bin/env node
// A timestamped trace of E2B's `Sandbox.create()` -> first `commands.run('echo hi')` with the
// SDK in a process of its own (this script re-run as a child) and the bench's real server (warm
// pool) here. Both sides stamp events on CLOCK_MONOTONIC (process.hrtime), which the two processes
// share, so one timeline holds: every HTTP request the SDK makes (undici's diagnostics channels:
// created, headers sent, response headers, body done; new connections), when the server saw
// each request and finished it, and the engine calls the E2B layer makes.
// Run after `npm run build`, as root:
//
//   node packages/bench/spike/e2b-trace.mjs [ROUNDS] [BUILD]    (default 30; BUILD: another checkout's server)
import { spawn } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const now = () => Number(process.hrtime.bigint()) / 1e6;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const short = (path) =>
  path
    .replace(/^\/e2b/, '')
    .replace(/\/sandboxes\/[a-z0-9]+/, '/sandboxes/:id')
    .replace(/\?.*$/, '');

if (process.argv[2] === 'client') {
  // The SDK's process: rounds on request (one line on stdin each), marks back as one JSON line.
  const { Sandbox } = await import('e2b');
  const opts = JSON.parse(process.argv[3]);
  let marks = [];
  const mark = (name) => marks.push([now(), name]);
  const reqName = (request) => `${request.method} ${short(request.path)}`;
  diagnostics.subscribe('undici:request:create', ({ request }) => mark(`sdk: ${reqName(request)} created`));
  diagnostics.subscribe('undici:client:sendHeaders', ({ request }) => mark(`sdk: ${reqName(request)} headers sent`));
  diagnostics.subscribe('undici:request:bodySent', ({ request }) => mark(`sdk: ${reqName(request)} body sent`));
  diagnostics.subscribe('undici:request:headers', ({ request }) => mark(`sdk: ${reqName(request)} response headers`));
  diagnostics.subscribe('undici:request:trailers', ({ request }) => mark(`sdk: ${reqName(request)} response done`));
  diagnostics.subscribe('undici:client:connected', () => mark('sdk: new connection'));
  let warm;
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'quit') break;
    if (line === 'warm') {
      // One more command on a used sandbox: the envd path alone, without create.
      warm ??= await Sandbox.create('base', opts);
      const cpu0 = process.cpuUsage();
      const t0 = now();
      const out = await warm.commands.run('true');
      const ms = now() - t0;
      const used = process.cpuUsage(cpu0);
      if (out.exitCode !== 0) throw new Error(`true exited ${out.exitCode}`);
      process.stdout.write(`${JSON.stringify({ ms, cpuMs: (used.user + used.system) / 1000 })}\n`);
      continue;
    }
    marks = [];
    const cpu0 = process.cpuUsage();
    mark('client: create called');
    const sb = await Sandbox.create('base', opts);
    mark('client: create returned');
    const out = await sb.commands.run('echo hi');
    mark('client: run returned');
    if (out.stdout !== 'hi\n') throw new Error(`echo hi answered ${JSON.stringify(out.stdout)}`);
    const used = process.cpuUsage(cpu0);
    const round = marks;
    await sb.kill();
    process.stdout.write(`${JSON.stringify({ marks: round, cpuMs: (used.user + used.system) / 1000 })}\n`);
  }
  process.exit(0);
}

const rounds = Number(process.argv[2] ?? 30);
const build = process.argv[3];
const { startBenchEnv } = await import('../dist/mitos/bench-env.js');
let serverMarks = [];
const mark = (name) => serverMarks.push([now(), name]);
const reqPath = (request) => short(new URL(request.url, 'http://x').pathname);
diagnostics.subscribe('http.server.request.start', ({ request }) => {
  const path = reqPath(request);
  mark(`server: ${request.method} ${path} in`);
  request.once('end', () => mark(`server: ${request.method} ${path} body read`));
});
diagnostics.subscribe('http.server.response.created', ({ request }) =>
  mark(`server: ${request.method} ${reqPath(request)} response created`),
);
diagnostics.subscribe('http.server.response.finish', ({ request }) =>
  mark(`server: ${request.method} ${reqPath(request)} response finished`),
);
diagnostics.subscribe('net.server.socket', () => mark('server: connection accepted'));

const env = await startBenchEnv(2, build);
try {
  await env.engine.ensureTemplate({ id: 'e2b-base' });
  const engine = env.engine;
  const wrap = (obj, method, name) => {
    const inner = obj[method].bind(obj);
    obj[method] = async (...args) => {
      mark(`${name} begin`);
      try {
        return await inner(...args);
      } finally {
        mark(`${name} end`);
      }
    };
  };
  for (const m of ['create', 'setDeadline', 'exec']) wrap(engine, m, `engine.${m}`);
  const startProcess = engine.startProcess.bind(engine);
  engine.startProcess = async (id, options) => {
    mark('engine.startProcess begin');
    const handle = await startProcess(id, options);
    mark('engine.startProcess handle');
    handle.subscribe({ onStdout: () => mark('process: first stdout'), onExit: () => mark('process: exit') });
    return handle;
  };
  const opts = { apiKey: env.e2bApiKey, apiUrl: `${env.url}/e2b`, sandboxUrl: `${env.url}/e2b`, timeoutMs: 60_000 };
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'client', JSON.stringify(opts)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  console.log(`load average before: ${load()}`);
  const rows = [];
  const cpu = [];
  // E2B_TRACE_PROFILE=<file>: a CPU profile of the server process over the used-sandbox calls,
  // or with E2B_TRACE_PROFILE_PART=rounds over the create-and-first-run rounds.
  const profileTo = process.env.E2B_TRACE_PROFILE;
  const profileRounds = process.env.E2B_TRACE_PROFILE_PART === 'rounds';
  const session = profileTo ? new (await import('node:inspector')).Session() : undefined;
  const post = (method, params) =>
    new Promise((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
  const startProfile = async () => {
    session.connect();
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 100 });
    await post('Profiler.start');
  };
  const stopProfile = async () => {
    const { profile } = await post('Profiler.stop');
    (await import('node:fs')).writeFileSync(profileTo, JSON.stringify(profile));
    session.disconnect();
  };
  for (let i = 0; i < rounds + 5; i++) {
    if (i === 5 && session && profileRounds) await startProfile();
    serverMarks = [];
    const cpu0 = process.cpuUsage();
    child.stdin.write('go\n');
    const { value, done } = await lines.next();
    if (done) throw new Error('the client process ended');
    const serverCpu = process.cpuUsage(cpu0);
    const { marks: client, cpuMs } = JSON.parse(value);
    // The server's CPU covers the round and the kill after it (the client's stops at its output).
    if (i >= 5) cpu.push({ client: cpuMs, server: (serverCpu.user + serverCpu.system) / 1000 });
    const t0 = client[0][0];
    const end = client.find(([, n]) => n === 'client: run returned')[0];
    const all = [...client, ...serverMarks.filter(([t]) => t >= t0 && t <= end)].sort((a, b) => a[0] - b[0]);
    // Names repeat (two connections, keepalive): number them in order.
    const seen = new Map();
    const named = all.map(([t, n]) => {
      const k = (seen.get(n) ?? 0) + 1;
      seen.set(n, k);
      return [t - t0, k > 1 ? `${n} #${k}` : n];
    });
    if (i >= 5) rows.push(new Map(named.map(([t, n]) => [n, t])));
  }
  // The envd path alone: commands.run('true') on one used sandbox, wall and CPU per call.
  if (session && profileRounds) await stopProfile();
  const warm = [];
  for (let i = 0; i < rounds * 4 + 10; i++) {
    if (i === 10 && session && !profileRounds) await startProfile();
    const cpu0 = process.cpuUsage();
    child.stdin.write('warm\n');
    const { value } = await lines.next();
    const serverCpu = process.cpuUsage(cpu0);
    const r = JSON.parse(value);
    if (i >= 10) warm.push({ ms: r.ms, client: r.cpuMs, server: (serverCpu.user + serverCpu.system) / 1000 });
  }
  if (session && !profileRounds) await stopProfile();
  child.stdin.write('quit\n');
  const names = [...new Set(rows.flatMap((r) => [...r.keys()]))];
  const at = names
    .map((n) => [n, median(rows.map((r) => r.get(n)).filter((v) => v !== undefined)), rows.filter((r) => r.has(n)).length])
    .sort((a, b) => a[1] - b[1]);
  console.log(`${build ? `server from ${build}` : 'this build'}; ${rows.length} rounds; median ms from Sandbox.create():`);
  let prev = 0;
  for (const [n, ms, count] of at) {
    console.log(`${ms.toFixed(2).padStart(8)}  (+${(ms - prev).toFixed(2).padStart(6)})  ${n}${count < rows.length ? `  [${count}/${rows.length}]` : ''}`);
    prev = ms;
  }
  console.log(
    `CPU ms per round, median: SDK process ${median(cpu.map((c) => c.client)).toFixed(2)} (create to output), server process ${median(cpu.map((c) => c.server)).toFixed(2)} (round and kill; engine and agent host side included)`,
  );
  console.log(
    `commands.run('true') on a used sandbox, ${warm.length} calls, median: ${median(warm.map((w) => w.ms)).toFixed(2)} ms wall, CPU ms SDK ${median(warm.map((w) => w.client)).toFixed(2)}, server ${median(warm.map((w) => w.server)).toFixed(2)}`,
  );
  console.log(`load average after: ${load()}`);
} finally {
  await env.close();
}
