#!/usr/bin/env node
// Where a create from the warm pool spends its time, engine-side, to the microsecond, and what
// the pool's refill and a terminated sandbox's teardown block the event loop for. (as root)
// Each round: create (taken from the pool) -> exec `echo hi` -> the same again -> terminate,
// then the refill and teardown settle before the next round (their loop blocks are sampled
// apart). With --baseline=CHECKOUT (a built copy of another commit) both builds take turns.
//   node packages/bench/spike/create-phases.mjs [ROUNDS] [--baseline=/tmp/base-checkout] [--cmd=SHELL] [--pool=N]
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { loadavg } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { removeCgroupParent } from '../dist/host/cgroup-parent.js';

const args = process.argv.slice(2);
const rounds = Number(args.find((a) => !a.startsWith('--')) ?? 30);
const baseline = args.find((a) => a.startsWith('--baseline='))?.slice(11);
const command = args.find((a) => a.startsWith('--cmd='))?.slice(6) ?? 'echo hi';
const poolSize = Number(args.find((a) => a.startsWith('--pool='))?.slice(7) ?? 2);
/** --sync-calls: time every synchronous fs call the engine makes (patched before it loads). */
const syncCalls = args.includes('--sync-calls');
const fs = createRequire(import.meta.url)('node:fs');
const syncTotals = new Map();
let syncActive = false;
if (syncCalls) {
  for (const name of Object.keys(fs)) {
    if (!name.endsWith('Sync') || typeof fs[name] !== 'function') continue;
    const fn = fs[name];
    fs[name] = function (...a) {
      const t = performance.now();
      try {
        return fn.apply(this, a);
      } finally {
        const d = performance.now() - t;
        if (syncActive) {
          const site = (new Error().stack ?? '').split('\n').find((l) => l.includes('/engine/dist/')) ?? '?';
          const key = `${name} ${site.trim().replace(/^at /, '').replace(/file:\/\/\S*\/dist\//, '')}`;
          const e = syncTotals.get(key) ?? { n: 0, ms: 0, max: 0 };
          e.n++;
          e.ms += d;
          e.max = Math.max(e.max, d);
          syncTotals.set(key, e);
        }
      }
    };
  }
  syncBuiltinESMExports();
}
const median = (xs) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : Number.NaN);

/** Time every call of obj[name] (sync or async) into side.phases[label]. */
function wrap(side, obj, name, label = name) {
  const fn = obj?.[name];
  if (typeof fn !== 'function') return;
  obj[name] = function (...a) {
    const t = performance.now();
    const note = () => side.active && (side.phases[label] ??= []).push(performance.now() - t);
    const r = fn.apply(this, a);
    if (r && typeof r.then === 'function') return r.finally(note);
    note();
    return r;
  };
}

/** The longest gaps of a setImmediate chain: what held the event loop, while `until` runs. */
async function loopBlocks(until) {
  let last = performance.now();
  let max = 0;
  let over1 = 0;
  let stop = false;
  const tick = () => {
    const now = performance.now();
    const gap = now - last;
    last = now;
    if (gap > max) max = gap;
    if (gap > 1) over1 += gap;
    if (!stop) setImmediate(tick);
  };
  setImmediate(tick);
  await until();
  stop = true;
  return { max, over1 };
}

async function openSide(name, checkout) {
  const mod = checkout
    ? await import(pathToFileURL(resolve(checkout, 'packages/engine/dist/index.js')).href)
    : await import('@mitos/engine');
  const stateDir = mkdtempSync('/tmp/mitos-bench-');
  const db = mod.openDatabase(join(stateDir, 'mitos.db'));
  const cgroupParent = `mitos-bench-${basename(stateDir).slice(-6)}`;
  const engine = await mod.LinuxEngine.open({ stateDir, cgroupParent, db, warmPoolSize: poolSize });
  const side = { name, stateDir, cgroupParent, engine, phases: {}, active: false, blocks: [] };
  const { store, driver, agents, pool } = engine;
  for (const m of ['template', 'sandbox', 'takePooled', 'setEnv', 'markRunning'])
    wrap(side, store, m, `store.${m}`);
  wrap(side, engine.templates, 'current', 'templates.current');
  wrap(side, driver, 'admit', 'driver.admit');
  wrap(side, driver, 'renamePooled', 'driver.rename');
  wrap(side, driver.storage, 'renameRoot', '  rename.root');
  wrap(side, driver.uidRanges, 'rename', '  rename.uidRange');
  wrap(side, driver.hostNetwork, 'rename', '  rename.network');
  wrap(side, pool, 'take', 'pool.take');
  wrap(side, pool, 'takeLive', '  pool.takeLive');
  wrap(side, agents.kernels, 'handOut', '  kernels.handOut');
  wrap(side, agents, 'forget', '  agents.forget');
  const client = agents.client.bind(agents);
  agents.client = (id) => {
    const c = client(id);
    if (!c.__wrapped) {
      c.__wrapped = true;
      wrap(side, c, 'setIdentity', '  agent.setIdentity');
      wrap(side, c, 'exec', 'agent.exec');
    }
    return c;
  };
  await engine.ensureTemplate({ id: 'python' });
  await pool.settle();
  return side;
}

const sides = [];
try {
  sides.push(await openSide('this build'));
  if (baseline) sides.push(await openSide(`baseline ${baseline}`, baseline));
  const times = sides.map(() => ({ create: [], exec1: [], exec2: [], blockMax: [], blockOver1: [] }));
  console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (let i = 0; i < rounds + 3; i++) {
    for (const [k, s] of sides.entries()) {
      const e = s.engine;
      const id = `cp-${k}-${i}`;
      s.active = i >= 3;
      const t0 = performance.now();
      await e.create({ id, templateId: 'python' });
      const t1 = performance.now();
      await e.exec(id, { command, timeoutMs: 30_000 });
      const t2 = performance.now();
      await e.exec(id, { command, timeoutMs: 30_000 });
      const t3 = performance.now();
      s.active = false;
      syncActive = syncCalls && i >= 3;
      const b = await loopBlocks(async () => {
        await e.terminate(id);
        await e.endings?.settle?.();
        await e.pool.settle();
      });
      syncActive = false;
      if (i >= 3) {
        const t = times[k];
        t.create.push(t1 - t0);
        t.exec1.push(t2 - t1);
        t.exec2.push(t3 - t2);
        t.blockMax.push(b.max);
        t.blockOver1.push(b.over1);
      }
    }
  }
  console.log(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const [k, s] of sides.entries()) {
    const t = times[k];
    console.log(`\n== ${s.name} (${rounds} rounds, medians in ms)`);
    console.log(
      `engine.create ${median(t.create).toFixed(3)}  first exec ${median(t.exec1).toFixed(3)}  second exec ${median(t.exec2).toFixed(3)}`,
    );
    console.log(
      `terminate+teardown+refill: longest loop block ${median(t.blockMax).toFixed(2)} ms, blocked >1ms total ${median(t.blockOver1).toFixed(2)} ms`,
    );
    for (const [label, xs] of Object.entries(s.phases))
      console.log(`  ${label.padEnd(24)} ${(median(xs) * 1000).toFixed(0).padStart(6)} us  (n=${xs.length})`);
  }
  if (syncCalls) {
    console.log('\nsynchronous fs calls during terminate + teardown + refill (all sides), per round:');
    for (const [k, e] of [...syncTotals].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25))
      console.log(`  ${(e.ms / rounds).toFixed(2).padStart(7)} ms  max ${e.max.toFixed(2).padStart(6)}  n/round ${(e.n / rounds).toFixed(1).padStart(5)}  ${k}`);
  }
} finally {
  for (const s of sides) {
    await s.engine.drainPool().catch(() => {});
    for (const r of s.engine.list()) await s.engine.terminate(r.id).catch(() => {});
    await s.engine.storage.destroy().catch(() => {});
    await s.engine.close().catch(() => {});
    removeCgroupParent(s.cgroupParent);
    rmSync(s.stateDir, { recursive: true, force: true });
  }
}
