/**
 * The process-carrying fork's surfaces under attack: the checkpoint tool that setup installs
 * runs as host root against sandbox processes, so no local user may read or change it; a
 * hostile process must not hide from the fork report by taking the agent's name; and a mode
 * the engine cannot honour leaves nothing half-made.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { criuTreePath, defaultCacheDir } from '@mitos/engine';
import { create, type Sandbox } from '@mitos/sdk';
import { Recorder } from './figures.js';
import { type LiveServer, liveServer, stopAndCheck } from './live.js';
import { asLocalUser } from './local-user.js';

const rec = new Recorder('fork-processes', 'Fork with processes: the checkpoint tool and the fork report', 8);

describe('fork with processes: the checkpoint tool and the fork report', { timeout: 300_000 }, () => {
  let live: LiveServer;
  let parent: Sandbox;

  before(async () => {
    live = await liveServer();
    parent = await create('python', { baseUrl: live.url });
  });

  after(async () => {
    await parent?.terminate().catch(() => {});
    await stopAndCheck(live, rec);
  });

  test('a local host user can neither read nor replace the CRIU that runs as root', () => {
    const tree = criuTreePath(defaultCacheDir());
    const st = statSync(tree);
    assert.equal(st.uid, 0, 'tree owner');
    assert.equal(st.mode & 0o077, 0, `tree mode ${(st.mode & 0o777).toString(8)}`);
    const list = asLocalUser(['ls', join(tree, 'usr', 'sbin')]);
    assert.notEqual(list.code, 0, 'a local user listed the CRIU tree');
    const plant = asLocalUser(['touch', join(tree, 'usr', 'sbin', 'criu')]);
    assert.notEqual(plant.code, 0, 'a local user touched the criu binary');
    rec.check('local user lists or writes the CRIU tree', 'refused: root-owned, 0700');
    rec.count('attacks', 2);
  });

  test('a process named like the agent still shows in the report of what was not carried', async () => {
    await parent.exec("bash -c 'exec -a mitos-init sleep 3600' >/dev/null 2>&1 &");
    const report = await parent.forkWithReport(1, { processes: 'auto' });
    try {
      assert.equal(report.carried.processes, false);
      const disguised = report.carried.processesNotCarried.filter((p) => /^mitos-init/.test(p.command));
      const sleeps = await parent.exec("pgrep -f '^mitos-init 3600' || true");
      const pid = Number(sleeps.stdout.trim().split('\n')[0]);
      assert.ok(pid > 1, `the disguised process is running (${sleeps.stdout})`);
      assert.ok(
        report.carried.processesNotCarried.some((p) => p.pid === pid),
        `pid ${pid} missing from ${JSON.stringify(disguised)}`,
      );
      rec.check('process renamed mitos-init hides from processes_not_carried', 'listed by pid');
    } finally {
      for (const child of report.children) await child.terminate();
    }
    rec.count('attacks');
  });

  test('processes "all" on an engine that cannot carry them is refused and makes no child', async () => {
    const before = new Set(live.engine.list().map((s) => s.id));
    const err = await parent.fork(1, { processes: 'all', ids: ['all-child'] }).then(
      () => undefined,
      (e: unknown) => e as { code?: string },
    );
    assert.equal(err?.code, 'not_implemented');
    const after = live.engine.list().map((s) => s.id);
    assert.deepEqual(
      after.filter((id) => !before.has(id)),
      [],
    );
    rec.check('fork processes "all" on the linux engine', 'not_implemented, no child made');
    rec.count('attacks');
  });
});
