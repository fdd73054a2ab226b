#!/usr/bin/env node
// Where the engine's ~1.4 ms of an exec goes (issue 19, "exec round trip"), and the before /
// after of the agent's exec path in ONE run. For each agent binary given (default: this
// build's), an engine of this build with that agent, one `base` sandbox each, then call by call
// in turn across the agents:
//   ping              one mux round trip, no process made
//   stat /            a channel (the agent forks a worker per channel before this change)
//   exec true         the command process too: `/bin/sh -c true` (true is a shell builtin)
//   exec /bin/true    sh then executes a second program
//   engine.exec true  the engine's whole exec (host lookup, template config, agent)
// then 32 callers of engine.exec('true') for a fixed count, in turn, and inside the sandbox the
// floor of a process: dash starting `/bin/true` and `/bin/sh -c true` 300 times in a loop.
// With --trace, 20 execs of `true` under `strace -f -ttt -T` on the agent's mux process and the
// time in each process that exec makes (tracing inflates them; read them relative);
// SPLIT_KEEP_TRACE=FILE keeps the raw trace.
//
//   node packages/bench/spike/exec-split.mjs [CALLS] [--agent=PATH ...] [--trace] [--throughput]   (as root)
//
// --throughput: only the 32-caller rounds (7 of them per side).
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, join } from 'node:path';
import { LinuxEngine, openDatabase } from '@mitos/engine';
import { AgentClient } from '../../engine/dist/agent/client.js';
import { removeCgroupParent } from '../dist/host/cgroup-parent.js';

const args = process.argv.slice(2);
const calls = Number(args.find((a) => !a.startsWith('--')) ?? 300);
const agents = args.filter((a) => a.startsWith('--agent=')).map((a) => a.slice(8));
if (agents.length === 0) agents.push(undefined);
const trace = args.includes('--trace');
const throughputOnly = args.includes('--throughput');
const rounds = throughputOnly ? 7 : 3;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p95 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)];
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

const sides = [];
try {
  for (const [k, agentPath] of agents.entries()) {
    const stateDir = mkdtempSync('/tmp/mitos-bench-');
    const db = openDatabase(join(stateDir, 'mitos.db'));
    const cgroupParent = `mitos-bench-${basename(stateDir).slice(-6)}`;
    const engine = await LinuxEngine.open({ stateDir, cgroupParent, db, warmPoolSize: 0, agentPath });
    const side = { name: agentPath ?? 'this build', stateDir, db, cgroupParent, engine, id: `spike-split-${k}` };
    sides.push(side);
    await engine.ensureTemplate({ id: 'base' });
    await engine.create({ id: side.id, templateId: 'base' });
    side.client = new AgentClient(engine.driver.socketPath(side.id), side.id);
  }
  console.log(`load average at start: ${load()}`);
  const ops = {
    ping: (s) => s.client.ping(),
    'stat /': (s) => s.client.stat('/'),
    'exec true': (s) => s.client.exec({ command: 'true', timeoutMs: 10_000 }),
    'exec /bin/true': (s) => s.client.exec({ command: '/bin/true', timeoutMs: 10_000 }),
    'engine.exec true': (s) => s.engine.exec(s.id, { command: 'true', timeoutMs: 10_000 }),
  };
  for (const [op, call] of Object.entries(throughputOnly ? {} : ops)) {
    const times = sides.map(() => []);
    for (let i = 0; i < 30 + calls; i++) {
      for (const [k, s] of sides.entries()) {
        const t = performance.now();
        await call(s);
        if (i >= 30) times[k].push(performance.now() - t);
      }
    }
    const cells = sides.map((s, k) => `${s.name} ${median(times[k]).toFixed(3)} (p95 ${p95(times[k]).toFixed(3)})`);
    console.log(`${op} ms: ${cells.join(' | ')}`);
  }
  // Throughput: each side in turn (3 rounds, 7 with --throughput), 32 callers of 20 execs each.
  const rates = sides.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [k, s] of sides.entries()) {
      const t = performance.now();
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          for (let i = 0; i < 20; i++) await s.engine.exec(s.id, { command: 'true', timeoutMs: 30_000 });
        }),
      );
      rates[k].push((32 * 20) / ((performance.now() - t) / 1000));
    }
  }
  console.log(`32 callers, execs/s (${rounds} rounds, median): ${sides.map((s, k) => `${s.name} ${median(rates[k]).toFixed(0)}`).join(' | ')}`);
  const loop = (cmd) =>
    `s=$(date +%s%N); i=0; while [ $i -lt 300 ]; do ${cmd}; i=$((i+1)); done; e=$(date +%s%N); echo $(( (e-s)/300000 ))`;
  for (const cmd of ['/bin/true', '/bin/sh -c true']) {
    const r = await sides[0].engine.exec(sides[0].id, { command: loop(cmd), timeoutMs: 60_000 });
    console.log(`inside the sandbox, dash runs \`${cmd}\`: ${r.stdout.toString().trim()} µs each`);
  }
  if (trace) await traceExecs(sides[0]);
  console.log(`load average at end: ${load()}`);
} finally {
  for (const s of sides) {
    s.client?.close();
    await s.engine.terminate(s.id).catch(() => {});
    await s.engine.storage.destroy().catch(() => {});
    await s.engine.close();
    removeCgroupParent(s.cgroupParent);
    s.db.close();
    rmSync(s.stateDir, { recursive: true, force: true });
  }
}

/** Host pids of the processes whose parent is `ppid`. */
function childrenOf(ppid) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(name));
    } catch {}
  }
  return out;
}

async function traceExecs(side) {
  // init -> agent -> the mux serving this engine's connection (the agent's only lasting child).
  const init = side.engine.store.sandbox(side.id).initPid;
  const agent = childrenOf(init)[0];
  const mux = childrenOf(agent)[0];
  const out = join(side.stateDir, 'strace.txt');
  const tracer = spawn('strace', ['-f', '-ttt', '-T', '-o', out, '-p', String(mux)], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500)); // spike only: strace has no ready signal
  for (let i = 0; i < 20; i++) await side.client.exec({ command: 'true', timeoutMs: 10_000 });
  tracer.kill('SIGINT');
  await new Promise((r) => tracer.on('exit', r));
  // Per process: first and last timestamp, its execve and clone durations.
  const procs = new Map();
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const m = /^(\d+)\s+(\d+\.\d+)\s+(\w+)\(.*?(?:<(\d+\.\d+)>)?$/.exec(line);
    if (!m) continue;
    const [, pid, ts, call, dur] = m;
    const p = procs.get(pid) ?? { first: Number(ts), last: 0, calls: 0, execve: 0, clone: 0 };
    p.last = Number(ts) + Number(dur ?? 0);
    p.calls++;
    if (call === 'execve') p.execve += Number(dur ?? 0);
    if (call === 'clone' || call === 'clone3' || call === 'vfork') p.clone += Number(dur ?? 0);
    procs.set(pid, p);
  }
  const list = [...procs.entries()].filter(([pid]) => pid !== String(mux));
  const withExec = list.filter(([, p]) => p.execve > 0);
  const workers = list.filter(([, p]) => p.execve === 0 && p.clone > 0);
  const us = (s) => (s * 1e6).toFixed(0);
  const describe = (label, group) => {
    if (group.length === 0) return;
    console.log(
      `traced ${label} (${group.length}): lifetime ${us(median(group.map(([, p]) => p.last - p.first)))} µs, ` +
        `${median(group.map(([, p]) => p.calls))} syscalls, clone ${us(median(group.map(([, p]) => p.clone)))} µs, ` +
        `execve ${us(median(group.map(([, p]) => p.execve)))} µs`,
    );
  };
  describe('per-channel workers', workers);
  describe('command processes', withExec);
  if (process.env.SPLIT_KEEP_TRACE) copyFileSync(out, process.env.SPLIT_KEEP_TRACE);
}
