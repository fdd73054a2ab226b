import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type FakeInternet, startFakeInternet, testEngineEnv, until } from '@mitos/testkit';
import type { LinuxEngine } from '../drivers/linux/engine.js';

/**
 * A fork that carries the processes of a sandbox with a network link: each child is restored
 * into an empty network namespace and gets a link and address of its own, as a files fork's
 * child does; a connection to outside is closed in the child (the parent keeps it) and named
 * in the report, while a loopback connection is carried.
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

  // Holds a connection to outside and a loopback connection (both ends in this process); on
  // each /tmp/ask it uses both and writes what came back to /tmp/answer.
  const hold = (outside: string) => `cat > /tmp/hold.py <<'PY'
import errno, os, socket, time
out = socket.create_connection(('${outside}', 80), timeout=10)
server = socket.socket()
server.bind(('127.0.0.1', 9000))
server.listen()
lo = socket.create_connection(('127.0.0.1', 9000))
peer, _ = server.accept()
open('/tmp/held', 'w').write('ready')
while True:
    if os.path.exists('/tmp/ask'):
        os.remove('/tmp/ask')
        try:
            out.sendall(b'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')
            got = b''
            while b'fake-internet' not in got:
                chunk = out.recv(65536)
                if not chunk:
                    break
                got += chunk
            o = 'outside:answered' if b'fake-internet' in got else 'outside:eof'
        except OSError as e:
            o = 'outside:' + (errno.errorcode.get(e.errno) or str(e))
        lo.sendall(b'ping')
        open('/tmp/answer.tmp', 'w').write(o + ' loopback:' + peer.recv(4).decode())
        os.rename('/tmp/answer.tmp', '/tmp/answer')
    time.sleep(0.05)
PY
exec python3 /tmp/hold.py`;

  test('the child has its own link and server; a connection to outside is closed in it and named, loopback ones carried', async () => {
    // The server logs each request to stderr, the pipe its background command was started with.
    await engine.startProcess(parent, { command: 'cd /tmp && exec python3 -m http.server 8000', timeoutMs: 0 });
    await engine.startProcess(parent, { command: hold(net.addresses.allowed), timeoutMs: 0 });
    const local = 'http://127.0.0.1:8000/';
    await until(async () => (await fetch(parent, local)).includes('Directory listing'), 30_000, 'the parent server');
    await until(async () => (await sh(parent, 'cat /tmp/held 2>/dev/null')) === 'ready', 30_000, 'the connections');
    const ask = async (id: string) => {
      await sh(id, 'rm -f /tmp/answer; touch /tmp/ask');
      let answer = '';
      await until(
        async () => {
          answer = await sh(id, 'cat /tmp/answer 2>/dev/null');
          return answer !== '';
        },
        20_000,
        `${id}'s connections to answer`,
      );
      return answer;
    };
    assert.equal(await ask(parent), 'outside:answered loopback:ping');

    const outcome = await engine.fork(parent, { count: 1, processes: 'all' });
    assert.equal(outcome.carried.processes, true);
    const closed = outcome.carried.connectionsClosed ?? [];
    assert.equal(closed.length, 1, JSON.stringify(closed));
    assert.match(closed[0]?.command ?? '', /python3 \/tmp\/hold\.py/);
    assert.ok((closed[0]?.pid ?? 0) > 1);
    assert.match(
      closed[0]?.socket ?? '',
      new RegExp(`^tcp \\S+ -> ${net.addresses.allowed.replace(/\./g, '\\.')}:80$`),
    );
    const child = outcome.children[0]?.id as string;
    assert.deepEqual(engine.get(child)?.forkCarried?.connectionsClosed, closed, "the child's record");
    const address = (id: string) => engine.network.slots.get(id)?.slot;
    assert.ok(address(child) !== undefined && address(child) !== address(parent), 'a link of its own');
    // Each of the child's requests is logged to the carried server's stderr, and answered.
    for (let i = 0; i < 3; i++) {
      await until(async () => (await fetch(child, local)).includes('Directory listing'), 20_000, "the child's server");
    }
    assert.match(await fetch(child, `http://${net.addresses.allowed}/`), /fake-internet/, 'the internet');
    // The process goes on: its connection to outside is closed, its loopback one carried.
    assert.equal(await ask(child), 'outside:EPIPE loopback:ping');
    // The parent keeps both.
    assert.equal(await ask(parent), 'outside:answered loopback:ping');
    await engine.terminate(child);
  });
});
