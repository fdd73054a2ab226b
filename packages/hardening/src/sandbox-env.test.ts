/**
 * A sandbox's own env (`create({ env })`) under attack: its values are often credentials. A
 * local host user cannot read them from the sandbox's processes or the state database, another
 * sandbox (one from the warm pool, its kernel started ahead) sees none of them, a crafted name
 * is refused without echoing the value, and no value reaches the server's or engine's log.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { create, type Sandbox } from '@mitos/sdk';
import { Recorder } from './figures.js';
import { type LiveServer, liveServer, stopAndCheck } from './live.js';
import { asLocalUser } from './local-user.js';

const rec = new Recorder('sandbox-env', 'Per-sandbox env: values kept from other users, sandboxes and logs', 10);
const SECRET = 'mitos-test-envsecret-93be41';

/** Host pids whose environment holds `value` (read as root). */
function pidsWithEnv(value: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`).includes(value)) pids.push(Number(name));
    } catch {
      // Gone meanwhile, or a kernel thread.
    }
  }
  return pids;
}

describe('per-sandbox env: values kept from other users, sandboxes and logs', { timeout: 300_000 }, () => {
  let live: LiveServer;
  let owner: Sandbox;
  const made: Sandbox[] = [];

  before(async () => {
    // The default kernel warming: the owner's run_code below makes the pool start python kernels.
    live = await liveServer({ engineOptions: { warmPoolSize: 1 } });
    owner = await create('python', { baseUrl: live.url, env: { API_TOKEN: SECRET } });
    made.push(owner);
    await owner.execBackground('sleep 600');
    assert.equal((await owner.runCode('import os\nos.environ["API_TOKEN"]')).text, `'${SECRET}'`);
  });

  after(async () => {
    for (const s of made) await s.terminate().catch(() => {});
    await stopAndCheck(live, rec, [SECRET]);
  });

  test('a local host user reads the value neither from /proc/<pid>/environ nor from the state database', () => {
    const pids = pidsWithEnv(SECRET);
    assert.ok(pids.length >= 2, `the sandbox's processes carry the env (${pids.length} found)`);
    for (const pid of pids) {
      const r = asLocalUser(['cat', `/proc/${pid}/environ`]);
      assert.ok(!r.out.includes(SECRET), `a local user read the env of pid ${pid}`);
    }
    rec.check('local user reads a sandbox process environ', `refused for all ${pids.length} processes`);
    const db = asLocalUser(['cat', join(live.env.stateDir, 'mitos.db')]);
    assert.notEqual(db.code, 0, 'a local user read the state database');
    assert.ok(!db.out.includes(SECRET));
    rec.check('local user reads the env column in the state database', 'refused');
    rec.count('attacks', 2);
  });

  test('another sandbox, from the warm pool with its kernel started ahead, sees none of it', async () => {
    const deadline = Date.now() + 120_000;
    // Full, and done starting kernels in what it holds (the owner's run_code turned them on).
    const settled = () => {
      const t = live.engine.pool?.status().templates.find((x) => x.template === 'python');
      return (t?.ready ?? 0) >= 1 && t?.refilling === false;
    };
    while (!settled()) {
      assert.ok(Date.now() < deadline, 'the warm pool did not refill within 120 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const other = await create('python', { baseUrl: live.url });
    made.push(other);
    const scan = await other.exec(`cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c ${SECRET} || true`);
    assert.equal(scan.stdout.trim(), '0');
    const started = await other.exec('pgrep -fc "[m]itos_kernel[.]py" || true');
    assert.equal(started.stdout.trim(), '1', 'its kernel was started ahead, in the pool');
    const kernel = await other.runCode('import os\n[k for k, v in os.environ.items() if "envsecret" in v]');
    assert.equal(kernel.text, '[]');
    rec.check('another sandbox reads the env (processes, pre-started kernel)', 'nothing: its own env only');
    rec.count('attacks');
  });

  test('a crafted name is refused with 400, naming it and never the value', async () => {
    for (const name of ['A=B', 'LD_PRELOAD\n', '../x', 'X\0Y']) {
      const res = await fetch(`${live.url}/v1/fork`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ template: 'python', env: { [name]: SECRET } }),
      });
      const body = await res.text();
      assert.equal(res.status, 400, body);
      assert.ok(!body.includes(SECRET), body);
    }
    rec.check('crafted env names (=, newline, path, NUL)', '400 invalid_request, value not echoed');
    rec.count('attacks', 4);
  });
});
