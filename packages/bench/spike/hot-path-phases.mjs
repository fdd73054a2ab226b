#!/usr/bin/env node
// Where the hot path's time goes, measured on a real Linux engine in this process (no HTTP):
// the agent round trip without a command (ping), `exec true`, and a fork split into its
// phases by timing the engine's own parts (process list, interpreter save, freeze, snapshot,
// thaw, cgroup, launch, network) around one real fork after another, then the child's first
// exec. Run after `npm run build`, as root:
//
//   node packages/bench/spike/hot-path-phases.mjs [CALLS] [FORKS]     (default 200, 20)
//
// PHASES_SLOTS=N opens the engine with N fork slots and waits, untimed, for them to be ready
// before each fork (so the slot path is what is timed).
//
// PHASES_EGRESS=allow gives the parent (so every child) a network link: each fork then also
// plumbs a veth pair and loads its nftables rules (ip, nsenter, nft).
import { mkdtempSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { LinuxEngine, openDatabase } from '@mitos/engine';
import { removeCgroupParent } from '../dist/host/cgroup-parent.js';

const calls = Number(process.argv[2] ?? 200);
const forks = Number(process.argv[3] ?? 20);
const stateDir = mkdtempSync('/tmp/mitos-bench-');
const db = openDatabase(join(stateDir, 'mitos.db'));
const cgroupParent = `mitos-bench-${basename(stateDir).slice(-6)}`;
const forkSlots = Number(process.env.PHASES_SLOTS ?? 0);
const engine = await LinuxEngine.open({ stateDir, cgroupParent, db, warmPoolSize: 0, forkSlots });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const phases = new Map();
const note = (name, ms) => {
  if (!phases.has(name)) phases.set(name, []);
  phases.get(name).push(ms);
};

/** Wrap obj[method] so each call's time is noted under `name`. */
function clock(obj, method, name) {
  const inner = obj[method].bind(obj);
  obj[method] = async (...args) => {
    const t = performance.now();
    try {
      return await inner(...args);
    } finally {
      note(name, performance.now() - t);
    }
  };
}

try {
  console.log(`load average before: ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  await engine.ensureTemplate({ id: 'python' });
  const id = 'spike-phases';
  const network = process.env.PHASES_EGRESS === 'allow' ? { egress: 'allow', inbound: 'deny' } : undefined;
  await engine.create({ id, templateId: 'python', ...(network ? { network } : {}) });
  const client = engine.agents.client(id);
  for (const [name, call] of [
    ['agent ping (channel + worker fork, no command)', () => client.ping()],
    ['engine exec `true` (adds fork+exec of /bin/sh)', () => engine.exec(id, { command: 'true', timeoutMs: 30_000 })],
    ['agent exec `true` (no row lookup)', () => client.exec({ command: 'true', timeoutMs: 30_000 })],
  ]) {
    const times = [];
    for (let i = 0; i < 20 + calls; i++) {
      const t = performance.now();
      await call();
      if (i >= 20) times.push(performance.now() - t);
    }
    console.log(`${name}: ${median(times).toFixed(3)} ms median of ${calls}`);
  }

  const driver = engine.driver;
  clock(engine.agents, 'listProcesses', 'fork: list the parent processes (agent)');
  clock(engine.agents, 'saveInterpreters', 'fork: save interpreters (kernel ping)');
  clock(driver.storage, 'snapshotRoots', 'fork: btrfs snapshot of the root');
  clock(driver.cgroups, 'create', 'fork: child cgroup create');
  clock(driver, 'start', 'fork: launch the child (spawn launcher .. agent ready)');
  clock(driver.hostNetwork, 'attach', 'fork: child network attach');
  const parentCgroup = driver.cgroup(engine.store.sandbox(id));
  clock(parentCgroup, 'freeze', 'fork: freeze the parent');
  clock(parentCgroup, 'thaw', 'fork: thaw the parent');
  for (const count of [1, 16]) {
    phases.clear();
    const totals = [];
    const firstExec = [];
    const n = count === 1 ? forks : Math.max(2, Math.floor(forks / 5));
    for (let i = 0; i < n; i++) {
      for (const deadline = Date.now() + 30_000; forkSlots > 0 && Date.now() < deadline; ) {
        if (engine.forkSlotsReady >= Math.min(count, forkSlots)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const t = performance.now();
      const out = await engine.fork(id, { count });
      const forked = performance.now();
      await Promise.all(out.children.map((c) => engine.exec(c.id, { command: 'true', timeoutMs: 30_000 })));
      const done = performance.now();
      totals.push(done - t);
      firstExec.push(done - forked);
      note('fork call (engine.fork)', forked - t);
      for (const c of out.children) await engine.terminate(c.id);
    }
    console.log(`\nfork(${count}) then exec in each child: ${median(totals).toFixed(2)} ms median of ${n}`);
    console.log(`  first exec(s) after the fork: ${median(firstExec).toFixed(2)} ms`);
    for (const [name, xs] of phases) {
      const sum = xs.reduce((a, b) => a + b, 0) / n;
      console.log(`  ${name}: ${median(xs).toFixed(2)} ms median per call, ${xs.length / n} calls, ${sum.toFixed(2)} ms per fork`);
    }
  }
  await engine.terminate(id);
  console.log(`load average after: ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`);
} finally {
  await engine.storage.destroy().catch(() => {});
  await engine.close();
  removeCgroupParent(cgroupParent);
  db.close();
  rmSync(stateDir, { recursive: true, force: true });
}
