#!/usr/bin/env node
// A python start inside a sandbox, agent binaries in turn in one run: does the agent's exec
// path change what a `python3 -c 'print(2+2)'` costs once it runs? (as root) Every agent given must
// take this build's launcher flags (c4f0fd2's does not know --cgroup-prime).
//   node packages/bench/spike/python-exec-ab.mjs [CALLS] --agent=PATH [--agent=PATH ...]
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, join } from 'node:path';
import { LinuxEngine, openDatabase } from '@mitos/engine';
import { removeCgroupParent } from '../dist/host/cgroup-parent.js';

const args = process.argv.slice(2);
const calls = Number(args.find((a) => !a.startsWith('--')) ?? 40);
const agents = args.filter((a) => a.startsWith('--agent=')).map((a) => a.slice(8));
if (agents.length === 0) agents.push(undefined);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sides = [];
try {
  for (const [k, agentPath] of agents.entries()) {
    const stateDir = mkdtempSync('/tmp/mitos-bench-');
    const db = openDatabase(join(stateDir, 'mitos.db'));
    const cgroupParent = `mitos-bench-${basename(stateDir).slice(-6)}`;
    const engine = await LinuxEngine.open({ stateDir, cgroupParent, db, warmPoolSize: 0, agentPath });
    const side = { name: agentPath ?? 'this build', stateDir, cgroupParent, engine, id: `spike-py-${k}` };
    sides.push(side);
    await engine.ensureTemplate({ id: 'python' });
    await engine.create({ id: side.id, templateId: 'python' });
  }
  console.log(`load average at start: ${loadavg()[0].toFixed(2)}`);
  for (const command of ["python3 -c 'print(2+2)'", 'true']) {
    const times = sides.map(() => []);
    for (let i = 0; i < 5 + calls; i++) {
      for (const [k, s] of sides.entries()) {
        const t = performance.now();
        await s.engine.exec(s.id, { command, timeoutMs: 30_000 });
        if (i >= 5) times[k].push(performance.now() - t);
      }
    }
    console.log(`${command}: ${sides.map((s, k) => `${s.name} ${median(times[k]).toFixed(2)} ms`).join(' | ')}`);
  }
  console.log(`load average at end: ${loadavg()[0].toFixed(2)}`);
} finally {
  for (const s of sides) {
    await s.engine.terminate(s.id).catch(() => {});
    await s.engine.storage.destroy().catch(() => {});
    await s.engine.close();
    removeCgroupParent(s.cgroupParent);
    rmSync(s.stateDir, { recursive: true, force: true });
  }
}
