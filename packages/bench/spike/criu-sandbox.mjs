#!/usr/bin/env node
// The spike behind "How far a real sandbox gets" in docs/fork-processes.md: one sandbox made by
// this build's engine (pid 1 the reaper, the agent its child) with a Python server, a counter
// holding memory, a shell loop and (with --node) a node process, forked with processes "all"
// (checkpoint as the user namespace's owner, restore of each child by the launcher onto the
// child's own root, a fresh agent) into 1, 4 and 16 children, beside a filesystem-only fork
// of the same parent in the same run. Prints each fork's time, the time to the first exec in
// the children, whether the children's processes go on, and (--profile) where a carried fork's
// time goes: the dump (CRIU's freeze, memory dump and write), the snapshot, and per child the
// images, the launch (launcher, CRIU restore, fresh agent) with CRIU's forking and restore
// times, and the first exec. Run after `npm run build`, as root:
//
//   node packages/bench/spike/criu-sandbox.mjs [--fanout 1,4,16] [--template python] [--profile] [--runs N]
import { spawnSync } from 'node:child_process';
import { subscribe } from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, join } from 'node:path';
import { LinuxEngine, openDatabase } from '@mitos/engine';
import { removeCgroupParent } from '../dist/host/cgroup-parent.js';

const arg = (name, fallback) =>
  process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback;
const fanouts = arg('--fanout', '1,4,16').split(',').map(Number);
const runs = Number(arg('--runs', '1'));
const profile = process.argv.includes('--profile');
const phases = [];
subscribe('mitos:carried-fork', (m) => phases.push(m));
const ms = (v) => (v === undefined ? '-' : v.toFixed(0));
const median = (xs) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] : undefined);
const us = (v) => (v === undefined ? '-' : (v / 1000).toFixed(0));
function printProfile(n, forkMs, firstExecMs) {
  const dump = phases.find((p) => p.phase === 'dump');
  const snap = phases.find((p) => p.phase === 'snapshot');
  const images = phases.filter((p) => p.phase === 'images').map((p) => p.ms);
  const launches = phases.filter((p) => p.phase === 'launch');
  const st = dump?.stats ?? {};
  const forking = launches.map((p) => p.stats?.forkingUs ?? 0);
  const restore = launches.map((p) => p.stats?.restoreUs ?? 0);
  console.log(
    `  profile ${n}: dump ${ms(dump?.ms)} (criu freezing ${us(st.freezingUs)}, frozen ${us(st.frozenUs)}, memdump ${us(st.memdumpUs)}, memwrite ${us(st.memwriteUs)}, pages written ${st.pagesWritten ?? '-'})` +
      `; snapshot ${ms(snap?.ms)}; images median ${ms(median(images))}` +
      `; launch median ${ms(median(launches.map((p) => p.ms)))} max ${ms(Math.max(...launches.map((p) => p.ms)))}` +
      ` (criu forking median ${us(median(forking))}, restore median ${us(median(restore))}, pages restored ${launches[0]?.stats?.pagesRestored ?? '-'})` +
      `; rest of fork ${ms(forkMs - (dump?.ms ?? 0) - (snap?.ms ?? 0) - Math.max(...launches.map((p) => p.ms)))}; fork to first exec ${ms(firstExecMs - forkMs)}`,
  );
}
const template = arg('--template', 'python');
const stateDir = mkdtempSync('/tmp/mitos-bench-');
const db = openDatabase(join(stateDir, 'mitos.db'));
const cgroupParent = `mitos-bench-${basename(stateDir).slice(-6)}`;
const engine = await LinuxEngine.open({ stateDir, cgroupParent, db, warmPoolSize: 0 });
const sh = async (id, command) => (await engine.exec(id, { command, timeoutMs: 30_000 })).stdout.toString().trim();
const count = async (id) => Number((await sh(id, 'cat /tmp/count 2>/dev/null || echo 0')) || 0);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

try {
  await engine.ensureTemplate({ id: template });
  const id = 'spike-parent';
  await engine.create({ id, templateId: template });
  const starts = [
    'cd /tmp && exec python3 -m http.server 8000',
    `exec python3 -c "import time\nbig = bytearray(20 << 20)\nn = 0\nwhile True:\n    n += 1\n    open('/tmp/count', 'w').write(str(n))\n    time.sleep(0.1)"`,
    'while true; do date +%s%N >> /tmp/loop; sleep 0.2; done',
  ];
  for (const command of starts) await engine.startProcess(id, { command, timeoutMs: 0 });
  for (const deadline = Date.now() + 30_000; (await count(id)) === 0 && Date.now() < deadline; ) await sleep(100);
  console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}; parent count ${await count(id)}`);
  if (profile) {
    const { findCriu } = await import('../../engine/dist/host/criu.js');
    const { tool } = findCriu('/var/cache/mitos');
    const startups = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const [file, args] = tool.argv(['--version']);
      spawnSync(file, args);
      startups.push(performance.now() - t);
    }
    console.log(`criu start-up (criu --version through the tree's loader) median ${ms(median(startups))} ms`);
  }
  for (const n of fanouts) for (let run = 0; run < runs; run++) {
    for (const processes of ['none', 'all']) {
      phases.length = 0;
      const t = performance.now();
      const outcome = await engine.fork(id, { count: n, processes }).then(
        (o) => ({ ok: true, o }),
        (e) => ({ ok: false, e }),
      );
      const forkMs = performance.now() - t;
      if (!outcome.ok) {
        console.log(`fork ${n} processes ${processes}: FAILED in ${forkMs.toFixed(0)} ms: ${outcome.e.message} ${JSON.stringify(outcome.e.toJSON?.() ?? outcome.e)} ${outcome.e.cause ?? ""}`);
        continue;
      }
      const kids = outcome.o.children.map((c) => c.id);
      await Promise.all(kids.map((k) => sh(k, 'true')));
      const firstExecMs = performance.now() - t;
      let going = 0;
      if (processes === 'all') {
        for (const k of kids) {
          const c0 = await count(k);
          for (const deadline = Date.now() + 10_000; (await count(k)) === c0 && Date.now() < deadline; ) await sleep(50);
          if ((await count(k)) > c0 && (await sh(k, 'python3 -c "import urllib.request as u; print(u.urlopen(\'http://127.0.0.1:8000/\').status)"')) === '200') going++;
        }
      }
      console.log(
        `fork ${n} processes ${processes}: fork ${forkMs.toFixed(0)} ms, fork to first exec in every child ${firstExecMs.toFixed(0)} ms` +
          (processes === 'all' ? `, children whose counter and server go on: ${going}/${n}` : ''),
      );
      if (profile && processes === 'all') printProfile(n, forkMs, firstExecMs);
      for (const k of kids) await engine.terminate(k);
    }
  }
  console.log(`parent count after all forks ${await count(id)}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
} finally {
  for (const s of engine.list()) await engine.terminate(s.id);
  await engine.network.destroy();
  await engine.storage.destroy();
  await engine.close?.();
  rmSync(stateDir, { recursive: true, force: true });
  removeCgroupParent(cgroupParent);
}
