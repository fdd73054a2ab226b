#!/usr/bin/env node
// Where an exec's time goes between the TS SDK and the engine, on a real server and engine in
// THIS process and clients in a process of their own (as the bench runs them). Run after
// `npm run build`, as root:
//
//   node [--cpu-prof --cpu-prof-dir=DIR] packages/bench/spike/http-exec-phases.mjs [CALLS] [--create N]
//
// Rows (medians over CALLS, each kind in turn so load lands on all alike):
// - client side: SDK `sb.exec('true')`, a bare node:http POST /v1/exec, GET /v1/health (HTTP
//   and middleware without the engine), and the Server-Timing of the bare POSTs;
// - server side, per exec, from node's http diagnostics channels and a wrapper on engine.exec:
//   request head parsed -> engine call -> engine done -> response finished;
// - the same engine.exec straight from this process (no HTTP);
// - per exec and per create: SQLite statements run (better-sqlite3 Statement methods), zod
//   parses, pino log lines written, socket writes of the response (net.Socket _writeGeneric /
//   _writev calls).
// With `--create N`: N creates over the SDK (python template, pool warm) with the server's
// share and the engine's create timed the same way.
import { spawn } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import net from 'node:net';
import { loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const fmt = (x) => (Number.isFinite(x) ? x.toFixed(3) : '-');

if (process.argv[2] === '--client') await client(JSON.parse(process.argv[3]));
else await parent();

async function parent() {
  const args = process.argv.slice(2);
  const calls = Number(args.find((a) => /^\d+$/.test(a)) ?? 500);
  const ci = args.indexOf('--create');
  const creates = ci >= 0 ? Number(args[ci + 1] ?? 20) : 0;
  const { startBenchEnv } = await import('../dist/mitos/bench-env.js');
  const env = await startBenchEnv(2);
  const counts = countWork(env);
  try {
    await env.engine.ensureTemplate({ id: 'python' });
    await env.engine.pool.settle();
    const sb = await env.engine.create({ id: 'spike-http', templateId: 'python' });
    const phases = serverPhases(env.engine);
    console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

    // Per-call counts, measured on 50 execs through a bare POST (the client's first block).
    const job = { url: env.url, apiKey: env.apiKey, sandbox: sb.id, calls, creates };
    const out = await runClient(job, counts, phases);
    // The engine straight from this process, after the clients (the server is idle then).
    const direct = [];
    for (let i = 0; i < 50 + calls; i++) {
      const t = performance.now();
      await env.engine.exec(sb.id, { command: 'true', timeoutMs: 30_000 });
      if (i >= 50) direct.push(performance.now() - t);
    }
    console.log(out.text);
    console.log(`engine.exec in-process (no HTTP)          ${fmt(median(direct))} ms`);
    console.log('server side, per exec (medians, ms):');
    for (const [name, xs] of phases.rows()) console.log(`  ${name.padEnd(44)} ${fmt(median(xs))}`);
    console.log('work per call:');
    for (const [name, n] of Object.entries(out.perCall)) console.log(`  ${name.padEnd(44)} ${n}`);
    console.log(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    await env.close();
  }
}

/** Counters of the work the server does, read before and after a block of calls. */
function countWork(env) {
  const n = { sqlite: 0, zod: 0, logLines: 0, socketWrites: 0, sqliteText: new Map() };
  // better-sqlite3: every statement runs through one of these on the Statement prototype.
  const db = env.engine.db ?? undefined;
  const probe = db?.prepare?.('SELECT 1');
  const proto = probe ? Object.getPrototypeOf(probe) : undefined;
  if (proto) {
    for (const m of ['run', 'get', 'all', 'iterate']) {
      const inner = proto[m];
      proto[m] = function (...a) {
        n.sqlite++;
        const key = `${m}: ${this.source.replace(/\s+/g, ' ').slice(0, 90)}`;
        n.sqliteText.set(key, (n.sqliteText.get(key) ?? 0) + 1);
        return inner.apply(this, a);
      };
    }
  }
  const sw = net.Socket.prototype._writeGeneric;
  net.Socket.prototype._writeGeneric = function (...a) {
    if (this.server) n.socketWrites++;
    return sw.apply(this, a);
  };
  const swv = net.Socket.prototype._writev;
  net.Socket.prototype._writev = function (...a) {
    if (this.server) n.socketWrites++;
    return swv.apply(this, a);
  };
  return n;
}

async function patchZod(n) {
  // zod as the protocol package resolves it (the one its schemas are built from).
  const { createRequire } = await import('node:module');
  const req = createRequire(new URL('../../protocol/package.json', import.meta.url));
  const zodUrl = pathToFileURL(req.resolve('zod')).href;
  const { z } = await import(zodUrl);
  for (const m of ['parse', 'safeParse', 'parseAsync', 'safeParseAsync']) {
    const inner = z.ZodType.prototype[m];
    if (!inner) continue;
    z.ZodType.prototype[m] = function (...a) {
      n.zod++;
      return inner.apply(this, a);
    };
  }
}

/** Timestamps per request from node's http channels and a wrapper on engine.exec / create. */
function serverPhases(engine) {
  const rows = new Map();
  const note = (k, ms) => (rows.get(k) ?? rows.set(k, []).get(k)).push(ms);
  const open = new WeakMap();
  let current;
  diagnostics.subscribe('http.server.request.start', ({ request, response }) => {
    const rec = { start: performance.now(), url: request.url };
    open.set(response, rec);
    current = rec;
  });
  diagnostics.subscribe('http.server.response.finish', ({ response }) => {
    const rec = open.get(response);
    if (!rec || rec.engineStart === undefined) return;
    const end = performance.now();
    const what = rec.url === '/v1/exec' ? 'exec' : 'create';
    note(`${what}: head parsed -> engine called`, rec.engineStart - rec.start);
    note(`${what}: engine call (as the server makes it)`, rec.engineEnd - rec.engineStart);
    note(`${what}: engine done -> response finished`, end - rec.engineEnd);
    note(`${what}: head parsed -> response finished`, end - rec.start);
  });
  // The engine call of the request being served: exec and create stamp its start and end.
  for (const method of ['exec', 'create']) {
    const inner = engine[method].bind(engine);
    engine[method] = async (...a) => {
      const rec = current;
      if (rec) rec.engineStart = performance.now();
      try {
        return await inner(...a);
      } finally {
        if (rec) rec.engineEnd = performance.now();
      }
    };
  }
  return { rows: () => rows };
}

function runClient(job, counts, phases) {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--client', JSON.stringify(job)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let text = '';
    let buf = '';
    const perCall = {};
    let before;
    child.stdout.on('data', (d) => {
      buf += d;
      // Control lines from the client: COUNT-START / COUNT-END <kind> <calls>.
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith('COUNT-START')) {
          before = { ...counts, sqliteText: new Map(counts.sqliteText), cpu: process.cpuUsage() };
          child.stdin.write('go\n');
        } else if (line.startsWith('COUNT-END')) {
          const [, kind, k] = line.split(' ');
          const per = (x) => ((x - 0) / Number(k)).toFixed(2);
          const cpu = process.cpuUsage(before.cpu);
          perCall[`${kind}: server CPU us (user+sys)`] = per(cpu.user + cpu.system);
          perCall[`${kind}: SQLite statements`] = per(counts.sqlite - before.sqlite);
          perCall[`${kind}: zod parses`] = per(counts.zod - before.zod);
          perCall[`${kind}: response socket writes`] = per(counts.socketWrites - before.socketWrites);
          for (const [q, c] of counts.sqliteText) {
            const d = c - (before.sqliteText.get(q) ?? 0);
            if (d > 0) perCall[`${kind}:   ${q}`] = per(d);
          }
          child.stdin.write('go\n');
        } else text += `${line}\n`;
      }
    });
    child.on('exit', (code) => (code === 0 ? ok({ text, perCall }) : fail(new Error(`client exited ${code}`))));
    patchZod(counts).catch(fail);
    void phases;
  });
}

// ---- the client process ----

async function client(job) {
  const http = await import('node:http');
  const { Sandbox, create } = await import(pathToFileURL(`${here}../../sdk/dist/index.js`).href);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL(job.url);
  const body = JSON.stringify({ sandbox: job.sandbox, command: 'true' });
  const lines = [];
  const waitGo = (() => {
    let pending;
    let buf = '';
    process.stdin.on('data', (d) => {
      buf += d;
      while (buf.includes('\n')) {
        buf = buf.slice(buf.indexOf('\n') + 1);
        pending?.();
      }
    });
    return () => new Promise((r) => (pending = r));
  })();
  const raw = (method, path, payload) =>
    new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          method,
          path,
          agent,
          headers: {
            authorization: `Bearer ${job.apiKey}`,
            ...(payload && { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode, timing: res.headers['server-timing'] ?? '' }));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  const sb = await Sandbox.connect(job.sandbox, { baseUrl: job.url, apiKey: job.apiKey });
  const kinds = {
    'SDK sb.exec(true)': () => sb.exec('true'),
    'bare node:http POST /v1/exec': () => raw('POST', '/v1/exec', body),
    'GET /v1/health (no engine)': () => raw('GET', '/v1/health'),
  };
  // Counts over 50 calls of each kind, alone.
  const clientCpu = [];
  for (const [name, fn, k] of [
    ['exec', kinds['bare node:http POST /v1/exec'], 300],
    ['sdk-exec', kinds['SDK sb.exec(true)'], 300],
    ['health', kinds['GET /v1/health (no engine)'], 300],
    ...(job.creates > 0
      ? [['create', async () => (await create('python', { baseUrl: job.url, apiKey: job.apiKey })).terminate(), job.creates]]
      : []),
  ]) {
    for (let i = 0; i < 20; i++) await fn();
    process.stdout.write('COUNT-START\n');
    await waitGo();
    const c0 = process.cpuUsage();
    for (let i = 0; i < k; i++) await fn();
    const c = process.cpuUsage(c0);
    clientCpu.push(`${name}: client CPU ${((c.user + c.system) / k).toFixed(0)} us per call`);
    process.stdout.write(`COUNT-END ${name} ${k}\n`);
    await waitGo();
  }
  lines.push(...clientCpu);
  const times = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  const timing = new Map();
  for (let i = 0; i < 30 + job.calls; i++) {
    for (const [name, fn] of Object.entries(kinds)) {
      const t = performance.now();
      const r = await fn();
      const ms = performance.now() - t;
      if (i < 30) continue;
      times[name].push(ms);
      if (name.startsWith('bare') && r.timing) {
        for (const part of r.timing.split(', ')) {
          const [k, d] = part.split(';dur=');
          (timing.get(k) ?? timing.set(k, []).get(k)).push(Number(d));
        }
      }
    }
  }
  for (const [name, xs] of Object.entries(times)) lines.push(`${name.padEnd(42)} ${fmt(median(xs))} ms`);
  lines.push(`Server-Timing of the bare POSTs: ${[...timing].map(([k, xs]) => `${k} ${fmt(median(xs))}`).join(', ')}`);
  if (job.creates > 0) {
    const tti = [];
    const creates = [];
    for (let i = 0; i < job.creates; i++) {
      const t = performance.now();
      const s = await create('python', { baseUrl: job.url, apiKey: job.apiKey });
      const c = performance.now() - t;
      await s.exec('true');
      tti.push(performance.now() - t);
      creates.push(c);
      await s.terminate();
    }
    lines.push(`SDK Sandbox.create                         ${fmt(median(creates))} ms`);
    lines.push(`SDK create + first exec (tti)              ${fmt(median(tti))} ms`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  agent.destroy();
  process.exit(0);
}
