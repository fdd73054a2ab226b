#!/usr/bin/env node
// What ready fork slots cost the host: opens an in-process engine with N slots (default 4),
// waits for them, then sums the PSS/RSS of each slot's two processes (the launcher waiting for
// its fork, and its child waiting in fresh namespaces) and counts the pids they hold. As root:
//
//   node packages/bench/spike/fork-slot-cost.mjs [N]
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { LinuxEngine, openDatabase } from '@mitos/engine';
import { removeCgroupParent } from '../dist/host/cgroup-parent.js';

const n = Number(process.argv[2] ?? 4);
const stateDir = mkdtempSync('/tmp/mitos-bench-');
const db = openDatabase(join(stateDir, 'mitos.db'));
const cgroupParent = `mitos-bench-${basename(stateDir).slice(-6)}`;
const engine = await LinuxEngine.open({ stateDir, cgroupParent, db, warmPoolSize: 0, forkSlots: n });
const kib = (pid, field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
const ppid = (pid) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
try {
  const t = performance.now();
  while (engine.forkSlotsReady < n) await new Promise((r) => setTimeout(r, 20));
  console.log(`${n} slots ready ${(performance.now() - t).toFixed(0)} ms after open`);
  const children = [];
  for (const key of engine.cgroups.list().filter((k) => k.startsWith('slot.'))) {
    const procs = readFileSync(`/sys/fs/cgroup/pids/${cgroupParent}/${key}/cgroup.procs`, 'utf8').trim().split('\n').filter(Boolean).map(Number);
    children.push(...procs);
  }
  const pids = [...children, ...children.map(ppid)];
  const pss = pids.reduce((a, p) => a + kib(p, 'Pss'), 0);
  const rss = pids.reduce((a, p) => a + kib(p, 'Rss'), 0);
  console.log(`${pids.length} processes (${children.length} waiting children + their launchers)`);
  console.log(`PSS ${(pss / 1024).toFixed(2)} MiB in all, ${(pss / n).toFixed(0)} KiB per slot; RSS ${(rss / n).toFixed(0)} KiB per slot`);
} finally {
  await engine.storage.destroy().catch(() => {});
  await engine.close();
  removeCgroupParent(cgroupParent);
  db.close();
  rmSync(stateDir, { recursive: true, force: true });
}
