import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MitosError } from '@mitos/protocol';
import { type FakeInternet, startFakeInternet, testEngineEnv, until } from '@mitos/testkit';
import type { LinuxEngine } from '../drivers/linux/engine.js';

/**
 * A fork that carries the processes of a sandbox with a network link: each child is restored
 * into an empty network namespace and gets a link and address of its own, as a files fork's
 * child does; a socket tied to the parent's address refuses the fork, named.
 */
describe('a carried fork of a sandbox with a network link', { timeout: 600_000 }, () => {
  const env = testEngineEnv();
  let engine: LinuxEngine;
  let net: FakeInternet;
  const parent = `carrynet-${process.pid}`;
  const sh = async (id: string, command: string) =>
    (await engine.exec(id, { command, timeoutMs: 20_000 })).stdout.toString().trim();
  const fetch = (id: string, url: string) =>
    sh(
      id,
      `python3 -c "import urllib.request as u; print(u.urlopen('${url}', timeout=5).read().decode().strip())" 2>&1 || true`,
    );

  before(async () => {
    net = await startFakeInternet();
    engine = await env.open({ dnsUpstreams: [net.dns] });
    await engine.ensureTemplate({ id: 'python' });
    await engine.create({ id: parent, templateId: 'python', network: { egress: 'allow', inbound: 'deny' } });
  });
  after(async () => {
    await env.cleanup();
    await net?.stop();
  });

  test('the child has its own link, its server and the internet; a connection out refuses the fork, named', async () => {
    // Its request log goes to a file: a carried child's background output pipes lose their
    // reader (docs/fork-processes.md, what is left), which would fail the server's requests.
    await engine.startProcess(parent, {
      command: 'cd /tmp && exec python3 -m http.server 8000 >/tmp/http.log 2>&1',
      timeoutMs: 0,
    });
    const local = 'http://127.0.0.1:8000/';
    await until(async () => (await fetch(parent, local)).includes('Directory listing'), 30_000, 'the parent server');

    const outcome = await engine.fork(parent, { count: 1, processes: 'all' });
    assert.equal(outcome.carried.processes, true);
    const child = outcome.children[0]?.id as string;
    const address = (id: string) => engine.network.slots.get(id)?.slot;
    assert.ok(address(child) !== undefined && address(child) !== address(parent), 'a link of its own');
    await until(async () => (await fetch(child, local)).includes('Directory listing'), 20_000, "the child's server");
    assert.match(await fetch(child, `http://${net.addresses.allowed}/`), /fake-internet/, 'the internet');
    await engine.terminate(child);

    // A connection to outside, held open: the fork is refused before anything is made.
    const hold = `exec python3 -c "import socket, time\ns = socket.create_connection(('${net.addresses.allowed}', 80))\ntime.sleep(3600)"`;
    await engine.startProcess(parent, { command: hold, timeoutMs: 0 });
    const before = engine.list().length;
    await until(
      async () => / [0-9A-F]{8}:0050 01 /.test(await sh(parent, 'cat /proc/net/tcp')),
      30_000,
      'the connection',
    );
    const refused = await engine.fork(parent, { count: 1, processes: 'all' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(refused instanceof MitosError, String(refused));
    assert.equal(refused.code, 'not_implemented');
    assert.match(refused.detail ?? '', new RegExp(`-> ${net.addresses.allowed.replace(/\./g, '\\.')}:80`));
    assert.match(refused.detail ?? '', /python3 -c import socket/);
    assert.equal(engine.list().length, before, 'nothing half-made');
  });
});
