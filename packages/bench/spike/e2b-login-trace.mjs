#!/usr/bin/env node
// What E2B's login shell (`bash -l -c`) runs in a template's sandbox, as `user`: every line
// bash traces (-x), to see which startup files run and whether any forks a command. Run after
// `npm run build`, as root:
//
//   node packages/bench/spike/e2b-login-trace.mjs [TEMPLATE]     (default e2b-base)
import { mkdtempSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { LinuxEngine, openDatabase } from '@mitos/engine';
import { removeCgroupParent } from '../dist/host/cgroup-parent.js';

const templateId = process.argv[2] ?? 'e2b-base';
const stateDir = mkdtempSync('/tmp/mitos-bench-');
const db = openDatabase(join(stateDir, 'mitos.db'));
const cgroupParent = `mitos-bench-${basename(stateDir).slice(-6)}`;
const engine = await LinuxEngine.open({ stateDir, cgroupParent, db, warmPoolSize: 0 });
try {
  await engine.ensureTemplate({ id: templateId });
  const id = 'spike-trace';
  await engine.create({ id, templateId });
  const env = { HOME: '/home/user', USER: 'user', LOGNAME: 'user' };
  const command = "exec setpriv --reuid=1000 --regid=1000 --init-groups -- /bin/bash -l -x -c 'echo hi'";
  const h = await engine.startProcess(id, { command, cwd: '/home/user', env, timeoutMs: 0 });
  const r = await h.wait();
  console.log(`exit ${r.exitCode}\n--- stdout\n${r.stdout}--- stderr (trace)\n${r.stderr}`);
  const ls = await engine.exec(id, { command: 'ls -la /etc/profile.d /home/user; cat /home/user/.profile', timeoutMs: 10_000 });
  console.log(ls.stdout.toString());
} finally {
  for (const s of engine.list()) await engine.terminate(s.id).catch(() => {});
  await engine.storage.destroy().catch(() => {});
  await engine.close();
  removeCgroupParent(cgroupParent);
  db.close();
  rmSync(stateDir, { recursive: true, force: true });
}
