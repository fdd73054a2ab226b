import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { testEngineEnv, until, withPythonSandboxes } from '@mitos/testkit';
import type { LinuxEngine } from '../drivers/linux/engine.js';
import { findCriu } from '../host/criu.js';
import { defaultCacheDir } from '../templates/builder.js';
import { asNamespaceOwner, capabilityList, ownCapabilities } from './as-owner.js';
import { dumpSandbox } from './dump.js';
import { agentSockets, processTree } from './tree.js';

function hasSocket(pid: number, inode: string): boolean {
  return readdirSync(`/proc/${pid}/fd`).some((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`;
    } catch {
      return false;
    }
  });
}

describe('running CRIU as the sandbox user namespace owner', () => {
  test("hands on root's capabilities as ambient ones, and never runs as uid 0", () => {
    // These machines' root: every capability but CAP_SYS_RESOURCE (bit 24).
    const caps = capabilityList('000001fffeffffff').split(',');
    assert.ok(caps.includes('+sys_ptrace') && caps.includes('+checkpoint_restore'));
    assert.ok(!caps.includes('+sys_resource'));
    assert.equal(caps.length, 40);
    const [file, args] = asNamespaceOwner(1_000_065_536, '+sys_ptrace', ['/x/criu', ['dump']]);
    assert.equal(file, 'setpriv');
    assert.deepEqual(args.slice(0, 4), ['--reuid', '1000065536', '--regid', '1000065536']);
    assert.deepEqual(args.slice(-3), ['--', '/x/criu', 'dump']);
    assert.throws(() => asNamespaceOwner(0, '+sys_ptrace', ['/x/criu', []]), /not a sandbox uid/);
    assert.match(ownCapabilities(), /^\+chown,/);
  });
});

describe('checkpoint of a live linux sandbox', { timeout: 300_000 }, () => {
  const env = testEngineEnv();
  let engine: LinuxEngine;
  const id = `dump-${process.pid}`;
  withPythonSandboxes(env, [{ id }], (e) => {
    engine = e;
  });

  test('dumps every process, the agent included, and the sandbox runs on', async () => {
    const found = findCriu(defaultCacheDir());
    assert.ok('tool' in found, 'missing' in found ? found.missing : '');
    const counter = `python3 -c "import time\nn = 0\nwhile True:\n    n += 1\n    open('/tmp/count', 'w').write(str(n))\n    time.sleep(0.05)"`;
    await engine.startProcess(id, { command: counter, timeoutMs: 0 });
    const count = async () =>
      Number(
        (
          await engine.exec(id, { command: 'cat /tmp/count 2>/dev/null || echo 0', timeoutMs: 20_000 })
        ).stdout.toString(),
      );
    await until(async () => (await count()) > 0, 20_000, 'the counter to start');
    const { pid } = engine.db.prepare('SELECT init_pid AS pid FROM sandboxes WHERE id = ?').get(id) as { pid: number };
    const base = Number(readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split(/\s+/)[1]);
    // The agent's listening socket in the sandbox's namespace; the engine's connection
    // (accepted on it) in the host's, held by the connection's mux process.
    const before = agentSockets(pid);
    assert.equal(before.listening.length, 1, `agent sockets: ${JSON.stringify(before)}`);
    assert.equal(before.host.length, 1, `agent sockets: ${JSON.stringify(before)}`);
    const dir = join(env.stateDir, 'checkpoint');
    // The connection is lost as the engine would drop it (its next call connects again).
    const mux = processTree(pid).find(
      (p) => readFileSync(`/proc/${p}/comm`, 'utf8') === 'mitos-agent\n' && hasSocket(p, before.host[0] ?? ''),
    );
    assert.ok(mux, 'no mux process');
    process.kill(mux, 'SIGKILL');
    const result = await dumpSandbox(found.tool, { initPid: pid, uidBase: base }, dir);
    assert.deepEqual(result.externalSockets, before.listening);
    const tree = processTree(pid);
    const st = statSync(dir);
    assert.equal(st.mode & 0o777, 0o700);
    assert.equal(st.uid, base);
    // One core image per task (threads too), at least one per process of the tree.
    const cores = readdirSync(dir).filter((f) => /^core-\d+\.img$/.test(f));
    assert.ok(cores.length >= tree.length, `${cores.length} core images for ${tree.length} processes`);
    for (const image of ['pstree.img', 'inventory.img', 'mountpoints-12.img']) {
      assert.ok(
        readdirSync(dir).some((f) => f.startsWith(image.replace(/-\d+\.img$/, ''))),
        `${image} missing`,
      );
    }
    // --leave-running: the counter goes on and the agent still serves.
    const at = await count();
    await until(async () => (await count()) > at, 20_000, 'the counter to go on after the dump');
  });
});
