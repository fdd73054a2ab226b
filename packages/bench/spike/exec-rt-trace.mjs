#!/usr/bin/env node
// Where an exec round trip's time goes, call by call, between a client in its own process and
// the engine in the server's: timestamps on one clock (performance.timeOrigin + now, both
// processes) at
//   client send -> server 'request' -> route calls engine.exec -> first write to the agent
//   -> first frame back -> last frame back (exit) -> engine.exec resolved
//   -> first socket write of the answer -> 'finish' -> client has the whole answer,
// on one warm sandbox, plus CPU time per call (server: process.cpuUsage; the sandbox: its
// cgroup's cpu.stat, which counts the agent, its mux and every `sh` it starts; the client: its
// own) and context switches per call (/proc/PID/status of the server, the client and the
// sandbox's long-lived agent processes). Run after `npm run build`, as root:
//
//   nice -n -5 node packages/bench/spike/exec-rt-trace.mjs [CALLS] [--kinds=sdk,bare,engine] [--command='echo hi']
//     [--throughput] [--httpx]
//
// Kinds are interleaved call by call (sdk, bare POST, in-process engine.exec) so load lands on
// all alike. Prints medians per phase and the per-call counts.
import { spawn } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const COMMAND = process.argv.find((a) => a.startsWith('--command='))?.slice(10) ?? 'true';
const now = () => performance.timeOrigin + performance.now();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const fmt = (x) => (Number.isFinite(x) ? x.toFixed(3) : '-');
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

if (process.argv[2] === '--client') await client(JSON.parse(process.argv[3]));
else await parent();

async function parent() {
  const args = process.argv.slice(2);
  const calls = Number(args.find((a) => /^\d+$/.test(a)) ?? 500);
  const { startBenchEnv } = await import('../dist/mitos/bench-env.js');
  const { MuxSession } = await import(pathToFileURL(`${here}../../engine/dist/agent/mux.js`).href);
  const env = await startBenchEnv(0);
  try {
    await env.engine.ensureTemplate({ id: 'python' });
    const sb = await env.engine.create({ id: 'spike-rt', templateId: 'python' });
    await env.engine.exec(sb.id, { command: COMMAND, timeoutMs: 30_000 });
    const cg = findCgroup(env.cgroupParent, sb.id);
    console.log(`load average at start: ${load()}; sandbox cgroup ${cg}`);

    // ---- server-side stamps ----
    let cur; // the record of the call in flight (calls are sequential)
    const records = [];
    const begin = (kind) => {
      cur = { kind, muxSends: 0, muxRecvs: 0, resWrites: 0 };
      records.push(cur);
      return cur;
    };
    diagnostics.subscribe('http.server.request.start', ({ request }) => {
      if (request.url !== '/v1/exec' && request.url !== '/v1/health') return;
      begin('http').req = now();
    });
    diagnostics.subscribe('http.server.response.finish', () => {
      if (cur) cur.fin = now();
    });
    const inner = env.engine.exec.bind(env.engine);
    let stub = false; // kind 'nop': the route runs, the engine answers at once (HTTP's share alone)
    env.engine.exec = async (...a) => {
      const rec = cur;
      rec.eng0 = now();
      if (stub) {
        rec.mux0 = rec.rx0 = rec.rx1 = rec.eng1 = now();
        return { exitCode: 0, timedOut: false, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), durationMs: 0 };
      }
      try {
        return await inner(...a);
      } finally {
        rec.eng1 = now();
      }
    };
    const send = MuxSession.prototype.send;
    MuxSession.prototype.send = function (frame) {
      if (cur) {
        cur.muxSends++;
        cur.mux0 ??= now();
      }
      return send.call(this, frame);
    };
    const receive = MuxSession.prototype.receive;
    MuxSession.prototype.receive = function (chunk) {
      if (cur) {
        cur.muxRecvs++;
        const t = now();
        cur.rx0 ??= t;
        cur.rx1 = t;
      }
      return receive.call(this, chunk);
    };
    for (const m of ['_writeGeneric', '_writev']) {
      const w = net.Socket.prototype[m];
      net.Socket.prototype[m] = function (...a) {
        if (this.server && cur) {
          cur.resWrites++;
          cur.res0 ??= now();
        }
        return w.apply(this, a);
      };
    }

    // ---- the client, driven call by call over its stdin/stdout ----
    const kinds = (args.find((a) => a.startsWith('--kinds='))?.slice(8) ?? 'sdk,bare,engine').split(',');
    const child = spawn(
      process.execPath,
      [fileURLToPath(import.meta.url), '--client', JSON.stringify({ url: env.url, apiKey: env.apiKey, sandbox: sb.id, command: COMMAND })],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const lines = lineReader(child.stdout);
    const ask = async (cmd) => {
      child.stdin.write(`${JSON.stringify(cmd)}\n`);
      return JSON.parse(await lines());
    };
    const agentPids = readFileSync(`${cg}/cgroup.procs`, 'utf8').trim().split('\n').map(Number);
    const rows = {};
    const push = (k, v) => (rows[k] ??= []).push(v);
    const counters = {};
    const cpuOf = () => ({
      server: cpuUs(process.cpuUsage()),
      serverSys: process.cpuUsage().system,
      threads: threadTicks(process.pid),
      sandbox: cgroupUsageUs(cg),
      serverCsw: csw(process.pid),
      agentCsw: agentPids.reduce((s, p) => s + csw(p), 0),
    });
    const warm = 30;
    for (const phase of ['warm', 'timed']) {
      const n = phase === 'warm' ? warm : calls;
      for (const kind of kinds) {
        // Counting block: n calls of one kind, CPU and context switches before/after.
        const c0 = cpuOf();
        const cl0 = kind === 'engine' ? undefined : await ask({ op: 'usage' });
        stub = kind === 'nop';
        if (kind === 'engine') for (let i = 0; i < n; i++) await oneCall(kind);
        else await ask({ op: kind, n }); // the client loops alone: no pipe traffic per call
        stub = false;
        cur = undefined;
        const c1 = cpuOf();
        const cl1 = kind === 'engine' ? undefined : await ask({ op: 'usage' });
        if (phase === 'timed') {
          const per = (a, b) => ((b - a) / n).toFixed(1);
          counters[kind] = {
            'server CPU us': per(c0.server, c1.server),
            '  of which system': per(c0.serverSys, c1.serverSys),
            'sandbox CPU us (agent+mux+sh)': per(c0.sandbox, c1.sandbox),
            'client CPU us': cl0 ? per(cl0.cpu, cl1.cpu) : '-',
            'server ctx switches': per(c0.serverCsw, c1.serverCsw),
            ...Object.fromEntries(
              Object.entries(c1.threads)
                .map(([k, v]) => [`  server thread ${k} us (utime+stime)`, per((c0.threads[k] ?? 0) * 1e4, v * 1e4)])
                .filter(([, v]) => Number(v) > 0),
            ),
            'agent procs ctx switches': per(c0.agentCsw, c1.agentCsw),
            'client ctx switches': cl0 ? per(cl0.csw, cl1.csw) : '-',
          };
        }
      }
    }
    // Interleaved timed calls for the phase medians.
    records.length = 0;
    for (let i = 0; i < calls; i++) {
      for (const kind of kinds) {
        stub = kind === 'nop';
        const r = await oneCall(kind);
        stub = false;
        if (!r) continue;
        push(`${kind}: total (client send -> client has answer)`, r.end - r.send);
        if (kind !== 'engine') {
          push(`${kind}:  client send -> server 'request'`, r.req - r.send);
          push(`${kind}:  'request' -> engine.exec called (middleware, route, parse)`, r.eng0 - r.req);
        }
        push(`${kind}:  engine.exec called -> first write to agent`, r.mux0 - r.eng0);
        push(`${kind}:  first write to agent -> first frame back`, r.rx0 - r.mux0);
        push(`${kind}:  first frame back -> last frame back`, r.rx1 - r.rx0);
        push(`${kind}:  last frame back -> engine.exec resolved`, r.eng1 - r.rx1);
        if (kind !== 'engine') {
          push(`${kind}:  engine resolved -> first answer write`, r.res0 - r.eng1);
          push(`${kind}:  first answer write -> 'finish'`, r.fin - r.res0);
          push(`${kind}:  'finish' -> client has answer`, r.end - r.fin);
        }
        push(`${kind}:  [mux writes / reads / answer writes]`, r.muxSends * 100 + r.muxRecvs + r.resWrites / 100);
      }
    }
    // httpx (the seed Python SDK's client) in a process of its own, the bench's client script.
    if (args.includes('--httpx')) {
      const out = await new Promise((ok, fail) => {
        const py = spawn('/usr/bin/python3', [`${here}../clients/httpx_exec.py`, env.url, env.apiKey, sb.id, String(calls), '30']);
        let text = '';
        py.stdout.on('data', (d) => (text += d));
        py.on('error', fail);
        py.on('exit', (code) => (code === 0 ? ok(JSON.parse(text)) : fail(new Error(`httpx client exited ${code}`))));
      });
      rows['httpx: total (own process, after the interleaved calls)'] = out.samples;
    }
    // Throughput: 32 callers for 3 s, SDK in the client process and straight into the engine.
    const through = {};
    if (args.includes('--throughput')) {
      for (const kind of ['sdk', 'engine']) {
        const c0 = cpuOf();
        let done = 0;
        const t0 = performance.now();
        if (kind === 'sdk') done = (await ask({ op: 'load', callers: 32, ms: 3000 })).calls;
        else
          await Promise.all(
            Array.from({ length: 32 }, async () => {
              while (performance.now() - t0 < 3000) {
                await env.engine.exec(sb.id, { command: COMMAND, timeoutMs: 30_000 });
                done++;
              }
            }),
          );
        const s = (performance.now() - t0) / 1000;
        const c1 = cpuOf();
        const per = (a, b) => ((b - a) / done).toFixed(1);
        through[kind] = `${(done / s).toFixed(0)} calls/s; per call: server CPU ${per(c0.server, c1.server)} us, sandbox CPU ${per(c0.sandbox, c1.sandbox)} us`;
      }
    }
    child.stdin.end();
    console.log(`load average at end: ${load()}`);
    for (const [k, v] of Object.entries(through)) console.log(`throughput, 32 callers, ${k}: ${v}`);
    console.log('median / mean / p90 (ms) over interleaved calls (means add up to the total; medians need not):');
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)];
    for (const [k, xs] of Object.entries(rows))
      console.log(`  ${k.padEnd(72)} ${fmt(median(xs)).padStart(7)} ${fmt(mean(xs)).padStart(7)} ${fmt(p90(xs)).padStart(7)}`);
    console.log('per call, counting blocks of one kind:');
    for (const [kind, c] of Object.entries(counters))
      for (const [k, v] of Object.entries(c)) console.log(`  ${kind}: ${k.padEnd(40)} ${v}`);

    async function oneCall(kind) {
      if (kind === 'engine') {
        const rec = begin('engine');
        const send = now();
        await env.engine.exec(sb.id, { command: COMMAND, timeoutMs: 30_000 });
        rec.end = now();
        cur = undefined;
        return { ...rec, send };
      }
      const r = await ask({ op: kind });
      const rec = records[records.length - 1];
      cur = undefined;
      return { ...rec, ...r };
    }
  } finally {
    await env.close();
  }
}

function findCgroup(parent, id) {
  // cgroup v2 (cpu.stat) or v1's cpuacct hierarchy (cpuacct.usage), whichever this host has.
  const root = [`/sys/fs/cgroup/cpuacct/${parent}`, `/sys/fs/cgroup/${parent}`].find((d) => existsSync(d)) ?? parent;
  const walk = (dir, depth) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const p = `${dir}/${e.name}`;
      if (e.name.includes(id)) return p;
      if (depth < 3) {
        const f = walk(p, depth + 1);
        if (f) return f;
      }
    }
    return undefined;
  };
  const found = walk(root, 0);
  if (!found) throw new Error(`no cgroup for ${id} under ${root}`);
  return found;
}

function cgroupUsageUs(cg) {
  if (existsSync(`${cg}/cpuacct.usage`)) return Number(readFileSync(`${cg}/cpuacct.usage`, 'utf8')) / 1000;
  return Number(/usage_usec (\d+)/.exec(readFileSync(`${cg}/cpu.stat`, 'utf8'))?.[1] ?? Number.NaN);
}

/** utime+stime in clock ticks (100 Hz here) per thread name of a process. */
function threadTicks(pid) {
  const out = {};
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const name = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      out[name] = (out[name] ?? 0) + Number(f[11]) + Number(f[12]);
    } catch {}
  }
  return out;
}

function cpuUs(u) {
  return u.user + u.system;
}

function csw(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(s)?.[1]) + Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(s)?.[1]);
  } catch {
    return 0;
  }
}

function lineReader(stream) {
  let buf = '';
  const waiting = [];
  const ready = [];
  stream.on('end', () => {
    for (const w of waiting.splice(0)) w(undefined);
  });
  stream.on('data', (d) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiting.shift();
      if (w) w(line);
      else ready.push(line);
    }
  });
  return () => (ready.length > 0 ? Promise.resolve(ready.shift()) : new Promise((r) => waiting.push(r)));
}

// ---- the client process ----

async function client(job) {
  const http = await import('node:http');
  const { Sandbox } = await import(pathToFileURL(`${here}../../sdk/dist/index.js`).href);
  const sb = await Sandbox.connect(job.sandbox, { baseUrl: job.url, apiKey: job.apiKey });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL(job.url);
  const body = JSON.stringify({ sandbox: job.sandbox, command: job.command });
  const bare = (method = 'POST', path = '/v1/exec') =>
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
            ...(method === 'POST' && { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
          },
        },
        (res) => {
          res.on('data', () => {});
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end(method === 'POST' ? body : undefined);
    });
  const lines = lineReader(process.stdin);
  for (;;) {
    const line = await lines();
    if (line === undefined) break;
    const cmd = JSON.parse(line);
    let out;
    if (cmd.op === 'usage') out = { cpu: cpuUs(process.cpuUsage()), csw: csw(process.pid) };
    else if (cmd.op === 'load') {
      let calls = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: cmd.callers }, async () => {
          while (performance.now() - t0 < cmd.ms) {
            await sb.exec(job.command);
            calls++;
          }
        }),
      );
      out = { calls };
    }
    else {
      const call = { sdk: () => sb.exec(job.command), bare: () => bare(), nop: () => bare(), health: () => bare('GET', '/v1/health') }[cmd.op];
      for (let i = 1; i < (cmd.n ?? 1); i++) await call();
      const send = now();
      await call();
      out = { send, end: now() };
    }
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }
  process.exit(0);
}
