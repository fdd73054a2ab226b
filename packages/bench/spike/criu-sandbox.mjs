#!/usr/bin/env node
// The spike behind "How far a real sandbox gets" in docs/fork-processes.md: one sandbox made by
// this build's engine (pid 1 the reaper, the agent its child), with a Python server, a counter
// in memory, a shell loop and a node process, checkpointed with the pinned CRIU as the owner
// of the sandbox's user namespace (its host uid, with root's capabilities as ambient ones),
// then restored as far as it goes. Prints each step's time and, on failure, the log's last
// errors. Run after `npm run build`, as root:
//
//   node packages/bench/spike/criu-sandbox.mjs [--hold SECONDS]
//
// --hold keeps the sandbox and the images for that long (paths printed) to try restores by hand.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { LinuxEngine, openDatabase } from '@mitos/engine';
import { criuFailure, dumpSandbox } from '../../engine/dist/checkpoint/dump.js';
import { findCriu } from '../../engine/dist/host/criu.js';
import { removeCgroupParent } from '../dist/host/cgroup-parent.js';

const hold = process.argv.includes('--hold') ? Number(process.argv[process.argv.indexOf('--hold') + 1]) : 0;
const criu = findCriu(process.env.MITOS_CACHE_DIR ?? '/var/cache/mitos');
if (!('tool' in criu)) throw new Error(criu.missing);
const stateDir = mkdtempSync('/tmp/mitos-bench-');
const db = openDatabase(join(stateDir, 'mitos.db'));
const cgroupParent = `mitos-bench-${basename(stateDir).slice(-6)}`;
const engine = await LinuxEngine.open({ stateDir, cgroupParent, db, warmPoolSize: 0 });
const work = mkdtempSync('/tmp/mitos-bench-criu-');
const sh = async (id, command) => {
  const r = await engine.exec(id, { command, timeoutMs: 30_000 });
  return r.stdout.toString().trim();
};
const ms = (t) => `${(performance.now() - t).toFixed(0)} ms`;

try {
  await engine.ensureTemplate({ id: 'python' });
  const id = 'spike-parent';
  await engine.create({ id, templateId: 'python' });
  const hasNode = (await sh(id, 'command -v node || true')) !== '';
  const starts = [
    'python3 -m http.server 8000',
    `python3 -c "import time\nbig = bytearray(20 << 20)\nn = 0\nwhile True:\n    n += 1\n    open('/tmp/count', 'w').write(str(n))\n    time.sleep(0.1)"`,
    'while true; do date +%s%N >> /tmp/loop; sleep 0.2; done',
  ];
  if (hasNode) starts.push(`node -e "const s = {hits: 0}; setInterval(() => { s.hits++; require('fs').writeFileSync('/tmp/js', String(s.hits)); }, 100)"`);
  for (const command of starts) await engine.startProcess(id, { command, timeoutMs: 0 });
  const deadline = Date.now() + 30_000;
  while ((await sh(id, 'cat /tmp/count 2>/dev/null || echo 0')) === '0' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  const { pid } = db.prepare('SELECT init_pid AS pid FROM sandboxes WHERE id = ?').get(id);
  const base = Number(readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split(/\s+/)[1]);
  console.log(`sandbox ${id}: init host pid ${pid}, uid base ${base}, node ${hasNode}, count ${await sh(id, 'cat /tmp/count')}`);
  // The engine's connection to the agent goes first (dump.ts says why); the next call reconnects.
  engine.agents.forget(id);
  const t = performance.now();
  const dump = await dumpSandbox(criu.tool, { initPid: pid, uidBase: base }, join(work, 'img')).then(
    (r) => ({ ok: true, r }),
    (e) => ({ ok: false, e }),
  );
  console.log(`dump as the namespace owner: ${dump.ok ? 'ok' : dump.e.message} in ${ms(t)}`);
  if (dump.ok) {
    const mb = spawnSync('du', ['-sm', dump.r.dir], { encoding: 'utf8' }).stdout.split('\t')[0];
    console.log(`images ${mb} MB, external sockets ${dump.r.externalSockets.join(' ')}; parent count now ${await sh(id, 'cat /tmp/count')}`);
  }
  if (dump.ok) {
    // How far a restore gets today: as host root, into the parent's own root (a spike only).
    const [file, args] = criu.tool.argv([
      'restore', '-D', '.', '-d', '--root', `/proc/${pid}/root`, '--tcp-established', '--ext-mount-map', 'auto',
      '-o', 'restore.log', '-v2', '--pidfile', 'restore.pid',
    ]);
    spawnSync('chmod', ['-R', 'a+rX', dump.r.dir]);
    const r0 = performance.now();
    const restore = spawnSync(file, args, { cwd: dump.r.dir, encoding: 'utf8' });
    const log = readFileSync(join(dump.r.dir, 'restore.log'), 'utf8');
    console.log(`restore as host root: rc ${restore.status} in ${ms(r0)}; ${criuFailure(log)}`);
    const restored = join(dump.r.dir, 'restore.pid');
    if (existsSync(restored)) process.kill(Number(readFileSync(restored, 'utf8')), 'SIGKILL');
  }
  if (hold > 0) {
    console.log(`holding ${hold} s: images ${join(work, 'img')}, parent root ${JSON.stringify(engine.storage.rootLayout(id))}, init ${pid}`);
    await new Promise((r) => setTimeout(r, hold * 1000));
  }
} finally {
  for (const s of engine.list()) await engine.terminate(s.id);
  await engine.network.destroy();
  await engine.storage.destroy();
  await engine.close?.();
  rmSync(work, { recursive: true, force: true });
  rmSync(stateDir, { recursive: true, force: true });
  removeCgroupParent(cgroupParent);
}
