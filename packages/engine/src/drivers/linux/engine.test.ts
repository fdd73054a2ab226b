import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isValidId } from '@mitos/protocol';
import { describeDriverConformance, shellOf, testEngineEnv, until, withPythonSandboxes } from '@mitos/testkit';
import type { SandboxAgents } from '../../core/agents.js';
import type { LinuxEngine } from './engine.js';

describeDriverConformance('linux', testEngineEnv);

/** Page cache charged to a sandbox's memory cgroup (v1 `cache`, v2 `file` in memory.stat). */
function fileCacheBytes(engine: LinuxEngine, parent: string, id: string): number {
  const { key } = engine.db.prepare('SELECT cgroup_key AS key FROM sandboxes WHERE id = ?').get(id) as { key: string };
  const v1 = `/sys/fs/cgroup/memory/${parent}/${key}/memory.stat`;
  const stat = readFileSync(existsSync(v1) ? v1 : `/sys/fs/cgroup/${parent}/${key}/memory.stat`, 'utf8');
  const m = /^(?:cache|file) (\d+)$/m.exec(stat);
  assert.ok(m, `no page cache figure in ${stat}`);
  return Number(m[1]);
}

describe('linux driver: isolation seen from inside a sandbox', { timeout: 600_000 }, () => {
  const env = testEngineEnv();
  let engine: LinuxEngine;
  const a = `iso-a-${process.pid}`;
  const b = `iso-b-${process.pid}`;
  const sh = shellOf(() => engine, 20_000);

  withPythonSandboxes(env, [{ id: a }, { id: b, limits: { memoryBytes: 96 * 1024 * 1024, pids: 40 } }], (e) => {
    engine = e;
  });

  test('sandbox root is an unprivileged host uid range of its own, and sees its files as its own', async () => {
    const base = async (id: string) => {
      const r = await sh(id, 'id -u; cat /proc/self/uid_map; stat -c %u:%g /etc/passwd');
      const m = /^0\n\s+0\s+(\d+)\s+65536\n0:0\n$/.exec(r.out);
      assert.ok(m, `unexpected id map in ${id}: ${r.out}`);
      return Number(m[1]);
    };
    const [ba, bb] = [await base(a), await base(b)];
    assert.ok(ba >= 1_000_000_000 && bb >= 1_000_000_000, `ranges ${ba} ${bb}`);
    assert.ok(Math.abs(ba - bb) >= 65_536, `ranges overlap: ${ba} ${bb}`);
  });

  test('sandboxes and fork children of a template share one page cache of its files', async () => {
    // The kernel charges a cached page to the cgroup that first read it. With the template as
    // one shared lower layer, once a has imported the libraries, another sandbox and a fork
    // child only bring their own files in (each whole-tree snapshot was charged ~106 MiB).
    const load = `python3 -c "import numpy, pandas, matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot"`;
    const [c, child] = [`iso-c-${process.pid}`, `iso-fork-${process.pid}`];
    await engine.create({ id: c, templateId: 'python' });
    await engine.fork(a, { count: 1, ids: [child] });
    assert.equal((await sh(a, load, 120_000)).code, 0);
    for (const id of [c, child]) {
      const r = await sh(id, load, 120_000);
      assert.equal(r.code, 0, r.err);
      const mib = fileCacheBytes(engine, env.cgroupParent, id) / 2 ** 20;
      assert.ok(mib < 20, `${id} was charged ${mib.toFixed(1)} MiB of page cache for the same import`);
    }
    await engine.terminate(c);
    await engine.terminate(child);
  });

  test('pid 1 runs its program from inside the sandbox and holds nothing; its agent child holds the socket', async () => {
    // What a checkpoint of the whole tree needs: every mapping and descriptor of the init and
    // the agent resolvable in the sandbox's own namespaces, and pid 1 itself holding nothing.
    const { pid } = engine.db.prepare('SELECT init_pid AS pid FROM sandboxes WHERE id = ?').get(a) as { pid: number };
    const fdsOf = (p: number) =>
      readdirSync(`/proc/${p}/fd`)
        .sort((x, y) => Number(x) - Number(y))
        .map((fd) => `${fd}=${readlinkSync(`/proc/${p}/fd/${fd}`)}`);
    assert.equal(readlinkSync(`/proc/${pid}/exe`), '/opt/mitos/init');
    assert.deepEqual(fdsOf(pid), ['0=/dev/null', '1=/dev/null', '2=/dev/null']);
    // The agent is pid 1's first child, the same program, with the socket on 3.
    const agent = Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0]);
    assert.equal(readFileSync(`/proc/${agent}/comm`, 'utf8'), 'mitos-agent\n');
    assert.equal(readlinkSync(`/proc/${agent}/exe`), '/opt/mitos/init');
    const fds = fdsOf(agent);
    const socket = /^3=socket:\[(\d+)\]$/.exec(fds[3] ?? '');
    assert.deepEqual(fds.slice(0, 3), ['0=/dev/null', '1=/dev/null', '2=/dev/null']);
    assert.ok(socket && fds.length === 4, `agent descriptors: ${fds.join(' ')}`);
    // The agent's socket belongs to the sandbox's network namespace, not the host's.
    const inodes = (ns: string) =>
      readFileSync(ns, 'utf8')
        .split('\n')
        .map((l) => l.trim().split(/\s+/)[6]);
    assert.ok(inodes(`/proc/${agent}/net/unix`).includes(socket[1]), 'agent socket not in the sandbox namespace');
    assert.ok(!inodes('/proc/self/net/unix').includes(socket[1]), "agent socket in the host's namespace");
    // Its program is there to exec, not to read or replace; the agent (pid 2 inside) stays
    // closed to ptrace and /proc, while pid 1, which holds nothing, is open (a checkpoint needs it).
    const r = await sh(
      a,
      'cat /proc/2/comm; cat /opt/mitos/init >/dev/null; echo x > /opt/mitos/init; ls /proc/2/fd; ls -l /proc/1/fd | grep -c /dev/null; echo done',
    );
    assert.match(r.out, /^mitos-agent\n3\ndone\n$/);
    assert.equal(r.err.match(/Permission denied|Read-only file system/g)?.length, 3, r.err);
  });

  test('the hostname is the sandbox id', async () => {
    assert.equal((await sh(a, 'hostname')).out, `${a}\n`);
  });

  test('an identity the agent refuses (a hostname over 64 bytes) fails by name and changes nothing', async () => {
    // The agent's connection process sets an identity itself (no worker): a failure is its answer.
    const client = (engine as unknown as { agents: SandboxAgents }).agents.client(a);
    await assert.rejects(client.setIdentity('h'.repeat(65), Buffer.alloc(8)), (err: { detail?: string }) =>
      /^sethostname: /.test(err.detail ?? ''),
    );
    assert.equal((await sh(a, 'hostname')).out, `${a}\n`);
    await client.setIdentity(a, Buffer.alloc(8, 1));
    assert.equal((await sh(a, 'hostname')).out, `${a}\n`);
  });

  test('no host file is visible', async () => {
    const marker = join(env.stateDir, 'host-secret.txt');
    writeFileSync(marker, 'host secret');
    const r = await sh(a, `cat ${marker} 2>&1; ls / ; ls /dev`);
    assert.doesNotMatch(r.out, /host secret/);
    assert.doesNotMatch(r.out, /\bvda\b|\bloop\d/);
    // The file API resolves inside the sandbox root too, through `..` and symlinks.
    await assert.rejects(engine.files.read(a, `/../../../..${marker}`), { code: 'not_found' });
    await sh(a, `ln -sf ${marker} /workspace/link; ln -sf /../../../../${marker} /workspace/link2`);
    await assert.rejects(engine.files.read(a, '/workspace/link'), { code: 'not_found' });
    await assert.rejects(engine.files.read(a, '/workspace/link2'), { code: 'not_found' });
    const passwd = await engine.files.read(a, '/workspace/../../etc/passwd');
    assert.match(passwd.toString(), /^root:x:0:0/);
  });

  test("no other sandbox's process is visible", async () => {
    await engine.startProcess(a, { command: 'exec sleep 4242', timeoutMs: 0 });
    // startProcess resolves once the process has a pid, which can be before it has exec'd.
    await until(
      async () => /sleep 4242/.test((await sh(a, 'cat /proc/[0-9]*/cmdline | tr "\\0" " "')).out),
      10_000,
      'sleep 4242 to show in its own sandbox',
    );
    const seenInB = await sh(b, 'cat /proc/[0-9]*/cmdline | tr "\\0" " "; echo; ls /proc | grep -c "^[0-9]"');
    assert.doesNotMatch(seenInB.out, /sleep 4242/);
    const pids = Number(seenInB.out.trim().split('\n').at(-1));
    assert.ok(pids < 10, `sandbox b sees ${pids} processes`);
  });

  test('no network beyond loopback', async () => {
    const r = await sh(
      a,
      `python3 - <<'EOF'
import socket
print(sorted(n for _, n in socket.if_nameindex()))
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()
c = socket.create_connection(srv.getsockname(), timeout=2); print('loopback ok')
routes = open('/proc/net/route').read().strip().splitlines()[1:]
print('routes', len(routes))
EOF`,
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\['lo'\]/);
    assert.match(r.out, /loopback ok/);
    // With no route at all, nothing can leave the sandbox (no packet is ever sent).
    assert.match(r.out, /routes 0/);
  });

  test('the memory limit holds', async () => {
    const r = await sh(b, `python3 -c "x = bytearray(300 * 1024 * 1024); print('allocated')"`);
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.out, /allocated/);
    assert.equal((await sh(b, 'echo still-alive')).out, 'still-alive\n');
  });

  test('the pids limit holds', async () => {
    const r = await sh(
      b,
      'n=0; for i in $(seq 100); do sleep 5 & n=$((n+1)); done 2>/dev/null; sleep 0.2; ls /proc | grep -c "^[0-9]"',
    );
    const count = Number(r.out.trim().split('\n').at(-1));
    assert.ok(count <= 40, `saw ${count} processes with a limit of 40`);
  });

  test('sandboxes keep running across an engine restart', async () => {
    await engine.files.write(a, '/workspace/before-restart.txt', Buffer.from('kept'));
    await engine.close();
    engine = await env.open();
    assert.equal(engine.get(a)?.state, 'running');
    assert.equal((await sh(a, 'cat /workspace/before-restart.txt')).out, 'kept');
  });
});

describe('linux driver: warm pool', { timeout: 600_000 }, () => {
  const env = testEngineEnv();
  let engine: LinuxEngine;
  const pooledCount = () =>
    (engine.db.prepare("SELECT count(*) AS n FROM sandboxes WHERE state = 'pooled'").get() as { n: number }).n;
  const waitPool = async (n: number) => {
    const deadline = Date.now() + 30_000;
    while (pooledCount() < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(pooledCount(), n);
  };

  before(async () => {
    engine = await env.open({ warmPoolSize: 2 });
    await engine.ensureTemplate({ id: 'python' });
    await waitPool(2);
  });
  after(() => env.cleanup());

  test('a create takes a pooled sandbox, which answers under its new name, and the pool refills', async () => {
    const info = await engine.create({ id: `warm-${process.pid}`, templateId: 'python' });
    assert.equal(info.state, 'running');
    assert.ok(!engine.list().some((s) => s.id.startsWith('pool-')), 'pooled sandboxes are not listed');
    const r = await engine.exec(info.id, { command: 'hostname; echo $HOSTNAME; pwd', timeoutMs: 5_000 });
    assert.equal(r.stdout.toString(), `${info.id}\n${info.id}\n/workspace\n`);
    await engine.files.write(info.id, '/workspace/a.txt', Buffer.from('mine'));
    assert.equal((await engine.files.read(info.id, '/workspace/a.txt')).toString(), 'mine');
    await waitPool(2);
    await engine.terminate(info.id);
  });

  test('per-sandbox limits apply to a pooled sandbox too', async () => {
    const info = await engine.create({ id: `warm-lim-${process.pid}`, templateId: 'python', limits: { pids: 24 } });
    const r = await engine.exec(info.id, {
      command: 'for i in $(seq 60); do sleep 3 & done 2>/dev/null; sleep 0.2; ls /proc | grep -c "^[0-9]"',
      timeoutMs: 10_000,
    });
    assert.ok(Number(r.stdout.toString().trim()) <= 24, r.stdout.toString());
    await engine.terminate(info.id);
  });

  test('the pool survives an engine restart', async () => {
    await waitPool(2);
    await engine.close();
    engine = await env.open({ warmPoolSize: 2 });
    assert.equal(pooledCount(), 2);
    const info = await engine.create({ id: `warm-after-${process.pid}`, templateId: 'python' });
    assert.equal((await engine.exec(info.id, { command: 'echo ok', timeoutMs: 5_000 })).stdout.toString(), 'ok\n');
    await engine.terminate(info.id);
  });
  test("a built-in row of an older recipe moves to this engine's recipe at its next create, and its pool goes", async () => {
    await waitPool(2);
    const pooled = () =>
      (engine.db.prepare("SELECT id FROM sandboxes WHERE state = 'pooled'").all() as { id: string }[]).map((r) => r.id);
    const before = pooled();
    // As an upgrade that changed the python image's recipe leaves it: the row names an older key.
    engine.db.prepare("UPDATE templates SET image_key = 'recipe-of-an-older-server' WHERE id = 'python'").run();
    await engine.close();
    engine = await env.open({ warmPoolSize: 2 });
    const id = `warm-upgraded-${process.pid}`;
    await engine.create({ id, templateId: 'python' });
    const { key } = engine.db.prepare("SELECT image_key AS key FROM templates WHERE id = 'python'").get() as {
      key: string;
    };
    assert.notEqual(key, 'recipe-of-an-older-server');
    assert.equal((await engine.exec(id, { command: 'echo ok', timeoutMs: 5_000 })).stdout.toString(), 'ok\n');
    assert.deepEqual(
      pooled().filter((p) => before.includes(p)),
      [],
      'the sandboxes pooled from the older image are ended',
    );
    await engine.terminate(id);
  });
  test('a handed-out sandbox keeps its cgroups; after a restart they still freeze, meter and go', async () => {
    await waitPool(2);
    const id = `warm-key-${process.pid}`;
    await engine.create({ id, templateId: 'python' });
    const { key } = engine.db.prepare('SELECT cgroup_key AS key FROM sandboxes WHERE id = ?').get(id) as {
      key: string;
    };
    // Named at launch, never renamed, and no sandbox id can ever take the name.
    assert.match(key, /^pool\./);
    assert.equal(isValidId(key), false);
    assert.ok(engine.cgroups.list().includes(key) && !engine.cgroups.list().includes(id));
    await engine.close();
    engine = await env.open({ warmPoolSize: 2 });
    const frozen = () => {
      const v1 = `/sys/fs/cgroup/freezer/${env.cgroupParent}/${key}/freezer.state`;
      if (existsSync(v1)) return readFileSync(v1, 'utf8').trim() === 'FROZEN';
      return /^frozen 1$/m.test(readFileSync(`/sys/fs/cgroup/${env.cgroupParent}/${key}/cgroup.events`, 'utf8'));
    };
    await engine.pause(id);
    assert.equal(frozen(), true);
    await engine.resume(id);
    assert.equal(frozen(), false);
    assert.equal((await engine.exec(id, { command: 'echo ok', timeoutMs: 5_000 })).stdout.toString(), 'ok\n');
    const usage = await engine.usage(id);
    assert.ok(usage.cpuNs > 0 && usage.memory.cgroupBytes > 0, JSON.stringify(usage));
    await engine.terminate(id);
    assert.ok(!engine.cgroups.list().includes(key), 'the cgroups of a terminated sandbox are left');
  });
});
