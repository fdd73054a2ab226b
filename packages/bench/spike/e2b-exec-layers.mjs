#!/usr/bin/env node
// The cost of each exec in the command line E2B's SDK asks for, on one warm sandbox of a
// template, through the engine (no HTTP): what setpriv's own start and its group lookup cost,
// what a login shell adds, and the same as the engine's exec-as-user (the agent takes the ids,
// no setpriv exec). Run after `npm run build`, as root:
//
//   node packages/bench/spike/e2b-exec-layers.mjs [ROUNDS] [TEMPLATE]     (default 60, e2b-base)
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, join } from 'node:path';
import { LinuxEngine, openDatabase } from '@mitos/engine';
import { removeCgroupParent } from '../dist/host/cgroup-parent.js';

const rounds = Number(process.argv[2] ?? 60);
const templateId = process.argv[3] ?? 'e2b-base';
const stateDir = mkdtempSync('/tmp/mitos-bench-');
const db = openDatabase(join(stateDir, 'mitos.db'));
const cgroupParent = `mitos-bench-${basename(stateDir).slice(-6)}`;
const engine = await LinuxEngine.open({ stateDir, cgroupParent, db, warmPoolSize: 0 });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const to = '--reuid=1000 --regid=1000';
const variants = [
  ['sh -c true (the floor: agent round trip, sh)', 'true'],
  ['+ exec /bin/true (one dynamic exec)', 'exec /bin/true'],
  ['+ exec setpriv --clear-groups -- /bin/true', `exec setpriv ${to} --clear-groups -- /bin/true`],
  ['+ exec setpriv --groups=1000 -- /bin/true', `exec setpriv ${to} --groups=1000 -- /bin/true`],
  ['+ exec setpriv --init-groups -- /bin/true (as now)', `exec setpriv ${to} --init-groups -- /bin/true`],
  ['+ exec setpriv to root (no uid change) -- /bin/true', 'exec setpriv --reuid=0 --regid=0 --clear-groups -- /bin/true'],
  ['+ exec env -- /bin/true (a two-exec chain, no uid change)', 'exec env -- /bin/true'],
  ['+ exec /bin/bash -c true', "exec /bin/bash -c 'true'"],
  ['+ exec /bin/bash -l -c true (root)', "exec /bin/bash -l -c 'true'"],
  ['setpriv --init-groups bash -c true', `exec setpriv ${to} --init-groups -- /bin/bash -c true`],
  ['setpriv --init-groups bash -l -c true (as the SDK asks, before)', `exec setpriv ${to} --init-groups -- /bin/bash -l -c true`],
  ['user option: bash -l -c true (as the SDK asks, after)', "exec '/bin/bash' '-l' '-c' 'true'", 'user'],
  ['user option: exec /bin/true', 'exec /bin/true', 'user'],
];
try {
  console.log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  await engine.ensureTemplate({ id: templateId });
  const id = 'spike-layers';
  await engine.create({ id, templateId });
  const env = { HOME: '/home/user', USER: 'user', LOGNAME: 'user' };
  // Interleaved rounds, so load drifts hit every variant alike.
  const times = variants.map(() => []);
  for (let i = 0; i < 5 + rounds; i++) {
    for (const [v, [name, command, user]] of variants.entries()) {
      const t = performance.now();
      const h = await engine.startProcess(id, { command, cwd: '/home/user', env, timeoutMs: 0, ...(user && { user }) });
      const r = await h.wait();
      if (r.exitCode !== 0) throw new Error(`${name}: exit ${r.exitCode} ${r.stderr}`);
      if (i >= 5) times[v].push(performance.now() - t);
    }
  }
  for (const [v, [name]] of variants.entries()) console.log(`${median(times[v]).toFixed(2).padStart(7)} ms  ${name}`);
  console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
} finally {
  for (const s of engine.list()) await engine.terminate(s.id).catch(() => {});
  await engine.storage.destroy().catch(() => {});
  await engine.close();
  removeCgroupParent(cgroupParent);
  db.close();
  rmSync(stateDir, { recursive: true, force: true });
}
