/**
 * Network posture attacks: from inside a sandbox (host ports, metadata, another sandbox, a
 * rewritten resolv.conf, DNS rebinding, names off the list, addresses another sandbox
 * resolved, a forged, missing or doubled name for an allow_domains address), and from a local
 * host user (a sandbox's port under inbound deny, the resolver, the name check).
 * The resolver's upstream is a fake DNS server on loopback: no question leaves this host.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { LinuxEngine } from '@mitos/engine';
import { type FakeDns, RESOLVE_IN_SANDBOX, shellOf, startFakeDns, testEngineEnv, until } from '@mitos/testkit';
import { nodeAsLocalUser } from './local-user.js';

// A DNS question (hardening.test, A) over UDP from the host as the unprivileged `nobody`:
// ANSWER or NONE.
const NOBODY_DNS = `const s=require('dgram').createSocket('udp4');
const q=Buffer.from('0007010000010000000000000968617264656e696e6704746573740000010001','hex');
s.on('message',()=>{console.log('ANSWER');process.exit(0)});setTimeout(()=>{console.log('NONE');process.exit(0)},2000);
s.send(q,+process.argv[2],process.argv[1]);`;

// Connect from the host as the unprivileged `nobody`: prints OK or ERR.
const NOBODY_CONNECT = `const s=require('net').connect({host:process.argv[1],port:+process.argv[2],timeout:3000});
s.on('connect',()=>{console.log('OK');process.exit(0)});s.on('error',()=>{console.log('ERR');process.exit(0)});
s.on('timeout',()=>{console.log('ERR');process.exit(0)});`;

describe('hardening: sandbox network postures', { timeout: 600_000 }, () => {
  const env = testEngineEnv();
  let engine: LinuxEngine;
  const sh = shellOf(() => engine, 30_000);
  const open = `hn-open-${process.pid}`;
  const closed = `hn-closed-${process.pid}`;
  let upstream: FakeDns;

  before(async () => {
    upstream = await startFakeDns({
      'hardening.test': [{ name: 'hardening.test', type: 'A', ttl: 60, data: '198.51.100.80' }],
      'good.test': [{ name: 'good.test', type: 'A', ttl: 60, data: '198.51.100.7' }],
      // Rebinding: an allowed name answering metadata, loopback, a private and a host address.
      'rebind.test': ['169.254.169.254', '127.0.0.1', '10.1.2.3', '192.168.1.1'].map((data) => ({
        name: 'rebind.test',
        type: 'A' as const,
        ttl: 1,
        data,
      })),
    });
    engine = await env.open({ dnsUpstreams: [{ host: '127.0.0.1', port: upstream.socket.address().port }] });
    await engine.ensureTemplate({ id: 'python' });
    await engine.create({ id: open, templateId: 'python', network: { egress: 'allow', inbound: 'allow' } });
    await engine.create({ id: closed, templateId: 'python', network: { egress: 'allow', inbound: 'deny' } });
    for (const id of [open, closed]) await sh(id, 'nohup python3 -m http.server 8080 >/dev/null 2>&1 &');
  });
  after(async () => {
    await env.cleanup();
    await upstream?.close();
  });

  /** The sandbox's own address (side 1) or its host-side gateway (side 0). */
  const addressOf = (id: string, side: 0 | 1 = 1) => {
    const slot = engine.network.slots.get(id)?.slot;
    assert.ok(slot, `${id} has a link`);
    const n = (10 << 24) + engine.network.identity.v4Block * 1024 + 2 * slot + side;
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  };
  const asNobody = async (host: string, port: number) =>
    (await nodeAsLocalUser(NOBODY_CONNECT, [host, String(port)])).trim();

  test('a local user reaches a sandbox port only where its posture lets inbound in', async () => {
    await until(async () => (await asNobody(addressOf(open), 8080)) === 'OK', 20_000, 'the open sandbox to answer');
    assert.equal(await asNobody(addressOf(closed), 8080), 'ERR');
  });

  test('from inside: another sandbox, the host and metadata stay shut whatever resolv.conf says', async () => {
    const probe = (host: string, port: number) =>
      sh(
        closed,
        `python3 -c 'import socket,sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3); print("OK")
except Exception: print("ERR")' ${host} ${port}`,
      );
    await sh(closed, 'echo nameserver 169.254.169.254 > /etc/resolv.conf');
    assert.equal((await probe(addressOf(open), 8080)).out.trim(), 'ERR');
    assert.equal((await probe('169.254.169.254', 80)).out.trim(), 'ERR');
    // DNS sent to the metadata address lands on the server's resolver, never on metadata.
    assert.equal((await sh(closed, `${RESOLVE_IN_SANDBOX} hardening.test`)).out.trim(), '198.51.100.80');
    assert.equal((await probe('127.0.0.1', 8080)).out.trim(), 'OK'); // its own loopback is its own
  });

  test('allow_domains: rebinding answers, names off the list and what another sandbox resolved open nothing', async () => {
    const a = `hn-dom-a-${process.pid}`;
    const b = `hn-dom-b-${process.pid}`;
    const posture = (domains: string[]) => ({
      egress: 'deny' as const,
      inbound: 'deny' as const,
      allow_domains: domains,
    });
    await engine.create({ id: a, templateId: 'python', network: posture(['good.test:443', 'rebind.test:80']) });
    await engine.create({ id: b, templateId: 'python', network: posture(['hardening.test:443']) });
    const set = (id: string) => {
      const slot = engine.network.slots.get(id)?.slot;
      return execFileSync('nft', ['list', 'set', 'inet', engine.network.identity.table, `dom4_${slot}`]).toString();
    };
    // Rebinding: every address of the answer is dropped, none is granted.
    assert.equal((await sh(a, `${RESOLVE_IN_SANDBOX} rebind.test`)).out.trim(), 'ERR gaierror');
    assert.doesNotMatch(set(a), /169\.254|127\.0|10\.1\.2|192\.168/);
    // A name off the list is NXDOMAIN and never asked upstream.
    assert.equal((await sh(a, `${RESOLVE_IN_SANDBOX} hardening.test`)).out.trim(), 'ERR gaierror');
    assert.equal((await sh(a, `${RESOLVE_IN_SANDBOX} offlist.test`)).out.trim(), 'ERR gaierror');
    assert.ok(!upstream.asked.includes('offlist.test'), 'a name off the list is not asked upstream');
    // What a resolved is granted to a only: b's connection is rejected on the host.
    assert.equal((await sh(a, `${RESOLVE_IN_SANDBOX} good.test`)).out.trim(), '198.51.100.7');
    assert.match(set(a), /198\.51\.100\.7 \. 443/);
    assert.doesNotMatch(set(b), /198\.51\.100\.7/);
    const connect = `python3 -c 'import socket
try:
    socket.create_connection(("198.51.100.7", 443), timeout=3); print("OK")
except OSError as e: print("ERR", e.errno)'`;
    // 113 (EHOSTUNREACH): the host's reject, at once, not a timeout far away.
    assert.equal((await sh(b, connect)).out.trim(), 'ERR 113');
  });

  test('allow_domains: a forged, missing or doubled name, or the name check reached directly, opens nothing', async () => {
    const c = `hn-sni-${process.pid}`;
    const domains = ['good.test:443', 'good.test:80'];
    await engine.create({
      id: c,
      templateId: 'python',
      network: { egress: 'deny', inbound: 'deny', allow_domains: domains },
    });
    assert.equal((await sh(c, `${RESOLVE_IN_SANDBOX} good.test`)).out.trim(), '198.51.100.7');
    // argv: address port name ('' sends none). The fake upstream's addresses lead nowhere, so
    // only the host's refusal answers: an alert, a 403 or a reject.
    const tls = async (address: string, port: number, name: string) =>
      (
        await sh(
          c,
          `python3 -c 'import socket, ssl, sys
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
try:
    c.wrap_socket(socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3), server_hostname=sys.argv[3] or None); print("OK")
except OSError as e: print("ERR", type(e).__name__, e.errno, e)' ${address} ${port} '${name}'`,
        )
      ).out.trim();
    const http = async (hosts: string[]) =>
      (
        await sh(
          c,
          `python3 -c 'import socket, sys
s = socket.create_connection(("198.51.100.7", 80), timeout=3)
s.sendall(("GET / HTTP/1.1\\r\\n" + "".join("Host: %s\\r\\n" % h for h in sys.argv[1:]) + "\\r\\n").encode())
print(s.recv(200).decode().split("\\r\\n")[0])' ${hosts.join(' ')}`,
        )
      ).out.trim();
    // Forged: the granted address, another name.
    assert.match(await tls('198.51.100.7', 443, 'evil.test'), /^ERR SSLError .*UNRECOGNIZED_NAME/);
    // No name at all, or an IP literal (which TLS clients never send as a name).
    assert.match(await tls('198.51.100.7', 443, ''), /^ERR SSLError .*UNRECOGNIZED_NAME/);
    // The allowed name sent to an address it did not resolve to: rejected on the host (113).
    assert.match(await tls('198.51.100.8', 443, 'good.test'), /^ERR \w+ 113 /);
    // Plain HTTP: another Host, or two of them, is refused before anything leaves.
    assert.equal(await http(['evil.test']), 'HTTP/1.1 403 Forbidden');
    assert.equal(await http(['good.test', 'evil.test']), 'HTTP/1.1 403 Forbidden');
    // The name check's own port, asked directly with an allowed name, has nowhere to send it.
    const sni = engine.network.sniPort;
    assert.ok(sni, 'the name check listens');
    assert.match(await tls(addressOf(c, 0), sni, 'good.test'), /^ERR SSLError .*UNRECOGNIZED_NAME/);
    // A local user cannot use it as a way out.
    assert.equal(await asNobody('127.0.0.1', sni), 'ERR');
  });

  test('a local user gets no answer from the sandboxes resolver', async () => {
    const port = engine.network.resolverPort;
    assert.ok(port, 'the resolver listens');
    const stdout = await nodeAsLocalUser(NOBODY_DNS, ['127.0.0.1', String(port)]);
    assert.equal(stdout.trim(), 'NONE');
  });
});
