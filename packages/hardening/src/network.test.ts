/**
 * Network posture attacks: from inside a sandbox (host ports, metadata, another sandbox, a
 * rewritten resolv.conf, DNS rebinding, names off the list, addresses another sandbox
 * resolved), and from a local host user (a sandbox's port under inbound deny, the resolver).
 * The resolver's upstream is a fake DNS server on loopback: no question leaves this host.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { LinuxEngine } from '@mitos/engine';
import { type FakeDns, RESOLVE_IN_SANDBOX, shellOf, startFakeDns, testEngineEnv, until } from '@mitos/testkit';

const execFileAsync = promisify(execFile);

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

  const addressOf = (id: string) => {
    const slot = engine.network.slots.get(id)?.slot;
    assert.ok(slot, `${id} has a link`);
    const n = (10 << 24) + engine.network.identity.v4Block * 1024 + 2 * slot + 1;
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  };
  const asNobody = async (host: string, port: number) =>
    (
      await execFileAsync('setpriv', [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        '-e',
        NOBODY_CONNECT,
        host,
        String(port),
      ])
    ).stdout.trim();

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

  test('a local user gets no answer from the sandboxes resolver', async () => {
    const port = engine.network.resolverPort;
    assert.ok(port, 'the resolver listens');
    const { stdout } = await execFileAsync('setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      '-e',
      NOBODY_DNS,
      '127.0.0.1',
      String(port),
    ]);
    assert.equal(stdout.trim(), 'NONE');
  });
});
