import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { connect, createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  type FakeInternet,
  RESOLVE_IN_SANDBOX,
  shellOf,
  startFakeInternet,
  testEngineEnv,
  until,
} from '@mitos/testkit';
import type { LinuxEngine } from '../drivers/linux/engine.js';
import { interfacePrefix, slotAddresses } from './addressing.js';

// An HTTP probe from inside a sandbox (Host: the third argument, else the address): prints
// the answer's body, or ERR and the reason.
const PROBE = `python3 -c '
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
    host = sys.argv[3] if len(sys.argv) > 3 else sys.argv[1]
    s.sendall(("GET / HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n" % host).encode())
    data = b""
    while True:
        d = s.recv(4096)
        if not d: break
        data += d
    print(data.decode().split("\\r\\n\\r\\n", 1)[-1].strip())
except Exception as e:
    print("ERR", type(e).__name__)
'`;

// A TLS client from inside a sandbox (no certificate check: the test is about names): prints
// what the server answered, or ERR and the reason. An empty third argument sends no name.
const TLS_PROBE = `python3 -c '
import socket, ssl, sys
try:
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    s = c.wrap_socket(socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5), server_hostname=sys.argv[3] or None)
    print(s.recv(300).decode().strip())
except Exception as e:
    print("ERR", type(e).__name__, e)
'`;

/** The first bytes a host-side TCP connection reads, or undefined when it cannot connect. */
function hostFetch(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 3000 });
    let data = '';
    socket.on('connect', () => socket.write('GET / HTTP/1.0\r\n\r\n'));
    socket.on('data', (d) => {
      data += d.toString();
    });
    socket.on('end', () => resolve(data));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.on('error', () => resolve(undefined));
  });
}

describe('sandbox network posture (linux engine, fake internet)', { timeout: 600_000 }, () => {
  const env = testEngineEnv();
  let engine: LinuxEngine;
  let net: FakeInternet;
  let apiStandIn: Server;
  let apiPort = 0;
  const sh = shellOf(() => engine, 30_000);
  const probe = async (id: string, address: string, port = 80, host = address) =>
    (await sh(id, `${PROBE} ${address} ${port} ${host}`)).out.trim();
  const tlsProbe = async (id: string, address: string, name: string, port = 443) =>
    (await sh(id, `${TLS_PROBE} ${address} ${port} '${name}'`)).out.trim();
  const id = (name: string) => `net-${name}-${process.pid}`;
  const links = () => {
    const out = execFileSync('ip', ['-o', 'link', 'show']).toString();
    return out.split('\n').filter((l) => l.includes(interfacePrefix(engine.network.identity)));
  };
  const table = () => {
    try {
      return execFileSync('nft', ['list', 'table', 'inet', engine.network.identity.table]).toString();
    } catch {
      return '';
    }
  };
  const sandboxAddress = (sandboxId: string) => {
    const slot = engine.network.slots.get(sandboxId)?.slot;
    assert.ok(slot, `${sandboxId} has a link`);
    return slotAddresses(engine.network.identity, slot);
  };

  before(async () => {
    net = await startFakeInternet();
    // Stands in for the mitos API: a host port on every address.
    apiStandIn = createServer((s) => s.end('host-port\n'));
    await new Promise<void>((r) => apiStandIn.listen(0, '0.0.0.0', r));
    apiPort = (apiStandIn.address() as { port: number }).port;
    engine = await env.open({ dnsUpstreams: [net.dns] });
    await engine.ensureTemplate({ id: 'python' });
  });
  after(async () => {
    apiStandIn?.close();
    await env.cleanup();
    await net?.stop();
  });

  test('deny (the default) gives the sandbox no interface but loopback', async () => {
    await engine.create({ id: id('deny'), templateId: 'python' });
    assert.deepEqual(engine.getNetwork(id('deny')), { egress: 'deny', inbound: 'deny' });
    assert.match(await probe(id('deny'), net.addresses.allowed), /^ERR/);
    const names = await sh(
      id('deny'),
      `python3 -c 'import socket; print(" ".join(n for _, n in socket.if_nameindex()))'`,
    );
    assert.equal(names.out.trim(), 'lo');
  });

  test('egress allow reaches the internet (v4 and v6), never metadata, host ports or private ranges', async () => {
    const s = id('allow');
    await engine.create({ id: s, templateId: 'python', network: { egress: 'allow', inbound: 'deny' } });
    assert.equal(await probe(s, net.addresses.allowed), `fake-internet ${net.addresses.allowed}`);
    assert.equal(await probe(s, net.addresses.v6), `fake-internet ${net.addresses.v6}`);
    // The server's resolver answers every name for it.
    assert.equal(await probe(s, 'other.test'), `fake-internet ${net.addresses.other}`);
    // The host reaches the fake metadata service: the sandbox's refusal is the policy's doing.
    assert.match((await hostFetch(net.addresses.metadata, 80)) ?? '', /fake-internet/);
    assert.match(await probe(s, net.addresses.metadata), /^ERR/);
    const a = sandboxAddress(s);
    for (const hostAddr of [a.host4, net.hostAddress, '127.0.0.1']) {
      assert.match(await probe(s, hostAddr, apiPort), /^ERR/, `host port via ${hostAddr}`);
    }
    assert.match(await probe(s, '10.0.0.1'), /^ERR/);
    const usage = await engine.usage(s);
    assert.ok(usage.egressBytes > 0, `egress bytes metered: ${usage.egressBytes}`);
  });

  test('a sandbox cannot reach another sandbox', async () => {
    const target = id('target');
    await engine.create({ id: target, templateId: 'python', network: { egress: 'deny', inbound: 'allow' } });
    await sh(target, 'nohup python3 -m http.server 8080 >/dev/null 2>&1 &');
    const t = sandboxAddress(target);
    // The host may connect (inbound allow) ...
    await until(
      async () => (await hostFetch(t.sandbox4, 8080)) !== undefined,
      20_000,
      'inbound connection from the host',
    );
    // ... another sandbox, even with egress allow, may not.
    assert.match(await probe(id('allow'), t.sandbox4, 8080), /^ERR/);
    assert.match(await probe(id('allow'), t.sandbox6, 8080), /^ERR/);
  });

  test('inbound deny refuses connections from the host; inbound_cidrs limits sources', async () => {
    const s = id('inbound');
    await engine.create({ id: s, templateId: 'python', network: { egress: 'allow', inbound: 'deny' } });
    await sh(s, 'nohup python3 -m http.server 8080 >/dev/null 2>&1 &');
    const a = sandboxAddress(s);
    const curl = async () => (await hostFetch(a.sandbox4, 8080)) !== undefined;
    await until(async () => (await sh(s, `${PROBE} 127.0.0.1 8080`)).out.includes('Directory'), 20_000, 'listener');
    assert.equal(await curl(), false);
    await engine.setNetwork(s, { egress: 'allow', inbound: 'allow', inbound_cidrs: ['192.0.2.99/32'] });
    assert.equal(await curl(), false);
    await engine.setNetwork(s, { egress: 'allow', inbound: 'allow', inbound_cidrs: [`${a.host4}/32`] });
    assert.equal(await curl(), true);
  });

  test('allow_cidrs opens only the listed address and port; IP literals elsewhere are refused', async () => {
    const s = id('cidrs');
    await engine.create({
      id: s,
      templateId: 'python',
      network: { egress: 'deny', inbound: 'deny', allow_cidrs: [`${net.addresses.allowed}/32:80`] },
    });
    assert.equal(await probe(s, net.addresses.allowed), `fake-internet ${net.addresses.allowed}`);
    assert.match(await probe(s, net.addresses.other), /^ERR/);
    assert.match(await probe(s, net.addresses.allowed, 8080), /^ERR/);
  });

  test('a live change takes effect without a restart, and block shuts everything', async () => {
    const s = id('live');
    await engine.create({ id: s, templateId: 'python' });
    assert.match(await probe(s, net.addresses.other), /^ERR/);
    await engine.setNetwork(s, { egress: 'allow', inbound: 'deny' });
    assert.equal(await probe(s, net.addresses.other), `fake-internet ${net.addresses.other}`);
    await engine.setNetwork(s, { egress: 'allow', inbound: 'deny', block: true });
    assert.match(await probe(s, net.addresses.other), /^ERR/);
    assert.deepEqual(engine.getNetwork(s), { egress: 'allow', inbound: 'deny', block: true });
  });

  test('fork children inherit the posture with addresses of their own', async () => {
    const outcome = await engine.fork(id('allow'), { count: 1, ids: [id('child')] });
    assert.equal(outcome.carried.connections, false);
    assert.deepEqual(engine.getNetwork(id('child')), { egress: 'allow', inbound: 'deny' });
    assert.notEqual(sandboxAddress(id('child')).sandbox4, sandboxAddress(id('allow')).sandbox4);
    assert.equal(await probe(id('child'), net.addresses.allowed), `fake-internet ${net.addresses.allowed}`);
  });

  test('allow_domains: only listed names resolve, their addresses open on the listed port, nothing else', async () => {
    const s = id('dom');
    const domains = ['allowed.test:80', '*.wild.test:80', 'alias.test:80', 'rebind.test:80'];
    await engine.create({
      id: s,
      templateId: 'python',
      network: { egress: 'deny', inbound: 'deny', allow_domains: domains },
    });
    const resolve = async (name: string) => (await sh(s, `${RESOLVE_IN_SANDBOX} ${name}`)).out.trim();
    const landed = /^fake-internet (203\.0\.113\.10|2001:db8::10)$/;
    // Before any lookup, the allowed name's address is closed too.
    assert.match(await probe(s, net.addresses.allowed), /^ERR/);
    assert.equal(await resolve('allowed.test'), `${net.addresses.v6} 203.0.113.10`);
    assert.match(await probe(s, 'allowed.test'), landed);
    assert.equal(await probe(s, net.addresses.allowed, 80, 'allowed.test'), `fake-internet ${net.addresses.allowed}`);
    // The address is open only to a request that names an allowed host.
    assert.match(
      await probe(s, net.addresses.allowed),
      /^mitos: 203\.0\.113\.10 is not in this sandbox's allow_domains/,
    );
    // What one sandbox resolved opens nothing for another, whatever its own list says.
    const neighbour = id('dom2');
    await engine.create({
      id: neighbour,
      templateId: 'python',
      network: { egress: 'deny', inbound: 'deny', allow_domains: ['other.test:80'] },
    });
    assert.match(await probe(neighbour, net.addresses.allowed), /^ERR/);
    // Only the listed port was opened for it.
    const slot = engine.network.slots.get(s)?.slot;
    const set = execFileSync('nft', ['list', 'set', 'inet', engine.network.identity.table, `dom4_${slot}`]).toString();
    assert.match(set, /203\.0\.113\.10 \. 80 timeout/);
    assert.doesNotMatch(set, /203\.0\.113\.10 \. (?!80 )/);
    // A name not on the list is NXDOMAIN, and the question never left the host.
    assert.equal(await resolve('other.test'), 'ERR gaierror');
    assert.equal(await resolve('unlisted.test'), 'ERR gaierror');
    assert.ok(!(await net.dnsLog()).includes('unlisted.test'), 'a refused name is not asked upstream');
    // The CNAME chain of a listed name resolves; a record about another name slipped into
    // the answer opens nothing.
    assert.match(await probe(s, 'alias.test'), /^fake-internet 203\.0\.113\.30$/);
    assert.match(await probe(s, net.addresses.other), /^ERR/);
    // DNS rebinding: a listed name answering metadata, loopback and private addresses.
    assert.equal(await resolve('rebind.test'), 'ERR gaierror');
    assert.match(await probe(s, net.addresses.metadata), /^ERR/);
    // Wildcards cover subdomains.
    assert.match(await probe(s, 'api.wild.test'), /^fake-internet 203\.0\.113\.20$/);
    // A live change drops what the old list resolved.
    await engine.setNetwork(s, { egress: 'deny', inbound: 'deny', allow_domains: ['other.test:80'] });
    assert.match(await probe(s, net.addresses.allowed), /^ERR/);
    assert.equal(await resolve('allowed.test'), 'ERR gaierror');
    assert.match(await probe(s, 'other.test'), /^fake-internet 203\.0\.113\.20$/);
  });

  test('allow_domains on a shared address: only the listed name passes, by TLS server name or HTTP Host', async () => {
    const s = id('sni');
    await engine.create({
      id: s,
      templateId: 'python',
      network: { egress: 'deny', inbound: 'deny', allow_domains: ['one.shared.test:443', 'one.shared.test:80'] },
    });
    const shared = net.addresses.shared;
    assert.equal((await sh(s, `${RESOLVE_IN_SANDBOX} one.shared.test`)).out.trim(), shared);
    assert.equal(await tlsProbe(s, 'one.shared.test', 'one.shared.test'), `tls one.shared.test ${shared}`);
    // The same address, asked for the other name it serves: refused before the server sees it.
    assert.match(await tlsProbe(s, shared, 'two.shared.test'), /^ERR SSLError .*UNRECOGNIZED_NAME/);
    assert.match(await tlsProbe(s, shared, ''), /^ERR SSLError .*UNRECOGNIZED_NAME/);
    assert.equal(await probe(s, shared, 80, 'one.shared.test'), `fake-internet ${shared}`);
    assert.match(await probe(s, shared, 80, 'two.shared.test'), /^mitos: two\.shared\.test is not in/);
    // The allowed name to an address it was not resolved to: closed on the host.
    assert.match(await tlsProbe(s, net.addresses.other, 'one.shared.test'), /^ERR /);
    const usage = await engine.usage(s);
    assert.ok(usage.egressBytes > 0, `bytes through the name check are metered: ${usage.egressBytes}`);
    // A live change starts from no resolved name: both listed, one resolved; the other name
    // opens the shared address only once this sandbox resolved it there.
    const both = ['one.shared.test:443', 'two.shared.test:443'];
    await engine.setNetwork(s, { egress: 'deny', inbound: 'deny', allow_domains: both });
    assert.equal((await sh(s, `${RESOLVE_IN_SANDBOX} one.shared.test`)).out.trim(), shared);
    assert.match(await tlsProbe(s, shared, 'two.shared.test'), /^ERR SSLError .*UNRECOGNIZED_NAME/);
    assert.equal((await sh(s, `${RESOLVE_IN_SANDBOX} two.shared.test`)).out.trim(), shared);
    assert.equal(await tlsProbe(s, shared, 'two.shared.test'), `tls two.shared.test ${shared}`);
    // And a name the new list drops is refused again.
    await engine.setNetwork(s, { egress: 'deny', inbound: 'deny', allow_domains: ['two.shared.test:443'] });
    assert.equal((await sh(s, `${RESOLVE_IN_SANDBOX} one.shared.test`)).out.trim(), 'ERR gaierror');
    assert.match(await tlsProbe(s, shared, 'one.shared.test'), /^ERR /);
  });

  test('terminate, and a restart after a sandbox died, leave no link, address or rule behind', async () => {
    const gone = sandboxAddress(id('child'));
    await engine.terminate(id('child'));
    assert.ok(!links().some((l) => l.includes(`${gone.hostIf}@`) || l.includes(`${gone.hostIf}:`)));
    assert.doesNotMatch(table(), new RegExp(`"${gone.hostIf}"`));
    // The server goes away; meanwhile a sandbox dies; the next server reaps what it had.
    const dead = sandboxAddress(id('live'));
    const pid = (await sh(id('live'), 'echo $$')).out; // proves it ran before
    assert.ok(pid);
    await engine.close();
    engine = await env.open({ dnsUpstreams: [net.dns] });
    const info = engine.db.prepare('SELECT init_pid FROM sandboxes WHERE id = ?').get(id('live')) as {
      init_pid: number;
    };
    process.kill(info.init_pid, 'SIGKILL');
    await until(() => !links().some((l) => l.includes(`${dead.hostIf}@`)), 10_000, 'the dead sandbox link to go');
    await engine.close();
    engine = await env.open({ dnsUpstreams: [net.dns] });
    assert.equal(engine.get(id('live')), undefined);
    assert.doesNotMatch(table(), new RegExp(`"${dead.hostIf}"`));
    assert.equal(engine.network.slots.get(id('live')), undefined);
    // Survivors keep their posture across the restart.
    assert.equal(await probe(id('allow'), net.addresses.allowed), `fake-internet ${net.addresses.allowed}`);
  });
});
