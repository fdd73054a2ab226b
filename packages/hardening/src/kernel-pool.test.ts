/**
 * Warm pools and the kernels they start ahead, under one tenant's attack on the others: any
 * tenant's run_code turns a template's pool kernels on for everyone. One tenant making and using
 * many templates, in both languages, over and over, must not grow the pools' memory without
 * bound (at most warmPoolTemplates x warmPoolSize pooled sandboxes, each kernel inside its pooled
 * sandbox's memory limit), and another tenant's sandbox from a pool the first tenant turned on
 * holds nothing of the first tenant. (sandbox-env.test.ts covers the env of one tenant's
 * sandboxes against a pooled sandbox with its kernel started ahead.)
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { create, type Sandbox } from '@mitos/sdk';
import { Recorder } from './figures.js';
import { type LiveServer, liveServer, stopAndCheck } from './live.js';

const rec = new Recorder('kernel-pool', "Warm pools and their kernels: one tenant's use against the others", 11);
const KEY_A = 'mitos-test-kpool-key-a-4b1e90c2';
const KEY_B = 'mitos-test-kpool-key-b-77d0e3a5';
const POOL_SIZE = 1;
const POOL_TEMPLATES = 2;
const LANGUAGES = 2;
// The code-interpreter image has python and node (both kernels), and its templates' pools start
// python ahead whatever the use: a tenant's obvious lever.
const SHARED = 'code-interpreter-kpool-a';

/** Host processes of this server's sandboxes running a kernel, with their /proc/<pid>/cgroup. */
function kernelProcesses(cgroupParent: string): { pid: number; cgroups: string }[] {
  const found: { pid: number; cgroups: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (!/mitos_kernel\.(py|mjs)/.test(cmdline)) continue;
      const cgroups = readFileSync(`/proc/${name}/cgroup`, 'utf8');
      if (cgroups.includes(`/${cgroupParent}/`)) found.push({ pid: Number(name), cgroups });
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/**
 * The tightest memory limit on a process between its cgroup and the server's cgroup parent:
 * the memory controller's hierarchy on a v1 (or hybrid) host, the unified one's on v2.
 */
function memoryLimitOf(cgroups: string, cgroupParent: string): number {
  const v1 = /^\d+:(?:[^:]*,)?memory(?:,[^:]*)?:(.*)$/m.exec(cgroups)?.[1];
  const v2 = /^0::(.*)$/m.exec(cgroups)?.[1];
  const [root, path, file] =
    v1 !== undefined
      ? ['/sys/fs/cgroup/memory', v1, 'memory.limit_in_bytes']
      : ['/sys/fs/cgroup', v2 ?? '', 'memory.max'];
  let limit = Number.POSITIVE_INFINITY;
  for (let p = path; p.includes(`/${cgroupParent}`); p = p.slice(0, p.lastIndexOf('/'))) {
    try {
      const value = Number(readFileSync(`${root}${p}/${file}`, 'utf8').trim());
      // v1 writes "no limit" as a page-rounded huge number.
      if (Number.isFinite(value) && value < 2 ** 60) limit = Math.min(limit, value);
    } catch {
      // No such level in this hierarchy.
    }
  }
  return limit;
}

describe("warm pools and their kernels: one tenant's use against the others", { timeout: 600_000 }, () => {
  let live: LiveServer;
  const made: Sandbox[] = [];
  const as = (apiKey: string) => ({ baseUrl: live.url, apiKey, onWarning: () => {} });

  before(async () => {
    live = await liveServer({
      apiKeys: [KEY_A, KEY_B],
      engineOptions: { warmPoolSize: POOL_SIZE, warmPoolTemplates: POOL_TEMPLATES },
    });
  });

  after(async () => {
    for (const s of made) await s.terminate().catch(() => {});
    await stopAndCheck(live, rec, [KEY_A, KEY_B]);
  });

  test("a sandbox from a pool another tenant's run_code turned on holds nothing of that tenant", async () => {
    const first = await create(SHARED, as(KEY_A));
    made.push(first);
    await first.files.write('/tmp/tenant-a.txt', 'tenant a was here');
    assert.equal((await first.runCode('tenant_a_secret = "kpool-a-6c1f"\n1')).text, '1');
    await first.runCode('globalThis.tenantASecret = "kpool-a-js"; 1', { language: 'javascript' });
    // The pool refilled after the create, then started the javascript kernel A's cell turned on.
    const deadline = Date.now() + 120_000;
    const ready = () => live.engine.pool.status().templates.find((t) => t.template === SHARED);
    while (!((ready()?.ready ?? 0) >= 1 && ready()?.refilling === false)) {
      assert.ok(Date.now() < deadline, 'the pool did not refill within 120 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const other = await create(SHARED, as(KEY_B));
    made.push(other);
    const started = await other.exec('pgrep -fc "[m]itos_kernel[.](py|mjs)" || true');
    assert.equal(started.stdout.trim(), String(LANGUAGES), "B's sandbox has both kernels started ahead");
    assert.equal((await other.runCode("'tenant_a_secret' in globals()")).text, 'False');
    assert.equal(
      (await other.runCode('typeof globalThis.tenantASecret', { language: 'javascript' })).text,
      "'undefined'",
    );
    assert.equal((await other.exec('test -e /tmp/tenant-a.txt; echo $?')).stdout.trim(), '1');
    assert.equal((await other.exec('grep -rl kpool-a /tmp /run 2>/dev/null | wc -l')).stdout.trim(), '0');
    rec.check(
      "another tenant's sandbox from a pool the first tenant's run_code turned on (python and javascript kernels)",
      'nothing of the first: no globals, no files; its kernels are its own',
    );
    rec.count('attacks');
  });

  test('one tenant using many templates in both languages, again and again, stays within the cap', async () => {
    const templates = [1, 2, 3, 4].map((n) => `code-interpreter-kpool-${n}`);
    // Every template twice, in both languages: each use turns its pool's kernels on.
    for (const round of [1, 2]) {
      for (const template of templates) {
        const sb = await create(template, as(KEY_B));
        assert.equal((await sb.runCode(`${round} + 1`)).text, String(round + 1));
        assert.equal((await sb.runCode(`${round} + 2`, { language: 'javascript' })).text, String(round + 2));
        await sb.terminate();
      }
    }
    await live.engine.pool.settle();
    const pools = live.engine.pool.status().templates.filter((t) => t.ready > 0);
    const pooled = pools.reduce((n, t) => n + t.ready, 0);
    assert.ok(pools.length <= POOL_TEMPLATES, `pools kept: ${pools.map((t) => t.template).join(', ')}`);
    assert.ok(pooled <= POOL_TEMPLATES * POOL_SIZE, `${pooled} pooled sandboxes`);
    // The last used templates keep theirs, with kernels started ahead; the others were drained.
    assert.deepEqual(pools.map((t) => t.template).sort(), templates.slice(-POOL_TEMPLATES));
    // Every kernel left runs in a pooled sandbox, under that sandbox's memory limit. A's
    // sandbox and B's from the first test still run, with their kernels: POOL_TEMPLATES x
    // POOL_SIZE pooled sandboxes of at most LANGUAGES kernels each, plus those two.
    const kernels = kernelProcesses(live.env.cgroupParent);
    assert.ok(kernels.length > 0, 'the kept pools have their kernels started ahead');
    assert.ok(
      kernels.length <= (POOL_TEMPLATES * POOL_SIZE + made.length) * LANGUAGES,
      `${kernels.length} kernel processes`,
    );
    for (const k of kernels) {
      const limit = memoryLimitOf(k.cgroups, live.env.cgroupParent);
      assert.ok(Number.isFinite(limit), `kernel ${k.pid} runs outside any memory limit:\n${k.cgroups}`);
    }
    rec.check(
      `one tenant runs python and javascript cells in ${templates.length} templates, twice over (cap ${POOL_TEMPLATES} templates x ${POOL_SIZE})`,
      `${pools.length} pools kept (the last used), ${pooled} pooled sandboxes, ${kernels.length} kernels, each under its sandbox's memory limit`,
    );
    rec.count('attacks');
  });
});
