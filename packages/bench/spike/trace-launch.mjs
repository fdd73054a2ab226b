#!/usr/bin/env node
// Forks a python sandbox FORKS times on an in-process engine, after printing the pid of the
// engine's spawner and waiting for GO_FILE to exist, so a tracer can be attached to the
// spawner first (strace -f -ff -tt -T -p PID) and see every launcher it starts. As root:
//
//   node packages/bench/spike/trace-launch.mjs GO_FILE [FORKS]
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { LinuxEngine, openDatabase } from '@mitos/engine';
import { removeCgroupParent } from '../dist/host/cgroup-parent.js';

const go = process.argv[2];
const forks = Number(process.argv[3] ?? 5);
const stateDir = mkdtempSync('/tmp/mitos-bench-');
const db = openDatabase(join(stateDir, 'mitos.db'));
const cgroupParent = `mitos-bench-${basename(stateDir).slice(-6)}`;
const engine = await LinuxEngine.open({ stateDir, cgroupParent, db, warmPoolSize: 0 });
try {
  await engine.ensureTemplate({ id: 'python' });
  await engine.create({ id: 'trace-parent', templateId: 'python' });
  const children = readdirSync('/proc/self/task').flatMap((t) =>
    readFileSync(`/proc/self/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean),
  );
  const spawner = children.find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('spawner'));
  console.log(`spawner ${spawner}`);
  while (!existsSync(go)) await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < forks; i++) {
    const t = performance.now();
    const out = await engine.fork('trace-parent', { count: 1 });
    console.log(`fork ${i}: ${(performance.now() - t).toFixed(1)} ms`);
    for (const c of out.children) await engine.terminate(c.id);
  }
} finally {
  await engine.terminate('trace-parent').catch(() => {});
  await engine.storage.destroy().catch(() => {});
  await engine.close();
  removeCgroupParent(cgroupParent);
  db.close();
  rmSync(stateDir, { recursive: true, force: true });
}
