#!/usr/bin/env node
// The measured spike behind "One persistent agent connection per sandbox" in BENCHMARKS.md:
// one running sandbox, two agent clients of this build in turn, call by call: one connection
// per operation (how the engine worked before) and one multiplexed connection (how it works
// now). Prints medians of ping, stat and `exec true`, then 32 execs in flight with the engine
// process's CPU per call. Run after `npm run build`, as root:
//
//   node packages/bench/spike/agent-connection.mjs [CALLS]      (default 300 of each)
import { mkdtempSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { LinuxEngine, openDatabase } from '@mitos/engine';
import { AgentClient } from '../../engine/dist/agent/client.js';
import { removeCgroupParent } from '../dist/host/cgroup-parent.js';

const calls = Number(process.argv[2] ?? 300);
const stateDir = mkdtempSync('/tmp/mitos-bench-');
const db = openDatabase(join(stateDir, 'mitos.db'));
const cgroupParent = `mitos-bench-${basename(stateDir).slice(-6)}`;
const engine = await LinuxEngine.open({ stateDir, cgroupParent, db, warmPoolSize: 0 });
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)].toFixed(3);
try {
  await engine.ensureTemplate({ id: 'base' });
  const id = 'spike-conn';
  await engine.create({ id, templateId: 'base' });
  const socket = engine.driver.socketPath(id);
  const clients = {
    'a connection per operation': new AgentClient(socket, id, { multiplex: false }),
    'one multiplexed connection': new AgentClient(socket, id),
  };
  const ops = {
    ping: (c) => c.ping(),
    stat: (c) => c.stat('/'),
    'exec true': (c) => c.exec({ command: 'true', timeoutMs: 10_000 }),
  };
  for (const [op, call] of Object.entries(ops)) {
    const times = Object.fromEntries(Object.keys(clients).map((k) => [k, []]));
    for (let i = 0; i < 30 + calls; i++) {
      for (const [name, c] of Object.entries(clients)) {
        const t = performance.now();
        await call(c);
        if (i >= 30) times[name].push(performance.now() - t);
      }
    }
    console.log(`${op}: ${Object.entries(times).map(([k, v]) => `${k} ${median(v)} ms`).join(' | ')}`);
  }
  for (const [name, c] of [...Object.entries(clients), ...Object.entries(clients)]) {
    const cpu = process.cpuUsage();
    const t = performance.now();
    let n = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (let i = 0; i < 15; i++, n++) await c.exec({ command: 'true', timeoutMs: 30_000 });
      }),
    );
    const used = process.cpuUsage(cpu);
    const rate = n / ((performance.now() - t) / 1000);
    console.log(`32 in flight, ${name}: ${rate.toFixed(0)}/s, ${((used.user + used.system) / n).toFixed(0)} µs CPU per call`);
  }
  for (const c of Object.values(clients)) c.close();
  await engine.terminate(id);
} finally {
  await engine.storage.destroy().catch(() => {});
  await engine.close();
  removeCgroupParent(cgroupParent);
  db.close();
  rmSync(stateDir, { recursive: true, force: true });
}
