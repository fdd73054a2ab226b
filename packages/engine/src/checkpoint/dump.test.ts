import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { testEngineEnv, until, withPythonSandboxes } from '@mitos/testkit';
import type { LinuxEngine } from '../drivers/linux/engine.js';
import { findCriu } from '../host/criu.js';
import { defaultCacheDir } from '../templates/builder.js';
import { asNamespaceOwner, capabilityList, ownCapabilities } from './as-owner.js';
import { dumpSandbox } from './dump.js';
import { agentUnixSockets, processTree } from './tree.js';

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
    const tree = processTree(pid);
    const sockets = agentUnixSockets(pid);
    // The agent's listening socket at least, and the engine's open connection.
    assert.ok(sockets.length >= 2, `agent sockets: ${sockets.join(' ')}`);
    const dir = join(env.stateDir, 'checkpoint');
    const result = await dumpSandbox(found.tool, { initPid: pid, uidBase: base }, dir);
    assert.deepEqual(result.externalSockets, sockets);
    const st = statSync(dir);
    assert.equal(st.mode & 0o777, 0o700);
    assert.equal(st.uid, base);
    // One core image per task (threads too), at least one per process of the tree.
    const cores = readdirSync(dir).filter((f) => /^core-\d+\.img$/.test(f));
    assert.ok(cores.length >= tree.length, `${cores.length} core images for ${tree.length} processes`);
    assert.match(readFileSync(join(dir, 'dump.log'), 'utf8'), /Dumping finished successfully/);
    // --leave-running: the counter goes on and the agent still serves.
    const before = await count();
    await until(async () => (await count()) > before, 20_000, 'the counter to go on after the dump');
  });
});
