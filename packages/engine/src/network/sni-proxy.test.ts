import assert from 'node:assert/strict';
import { connect, createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import type { NetworkPosture } from '@mitos/protocol';
import { nameAllowed, SniProxy } from './sni-proxy.js';

describe('the SNI proxy (conntrack replaced by a fixed destination)', () => {
  let upstream: Server;
  let proxy: SniProxy;
  let posture: NetworkPosture = { egress: 'deny', inbound: 'deny', allow_domains: ['one.shared.test:80'] };
  let upstreamPort = 0;
  const upstreamSaw: string[] = [];
  let resolved = ['one.shared.test', 'two.shared.test'];

  before(async () => {
    // The "original destination": records what reached it, answers with a fixed line.
    upstream = createServer({ allowHalfOpen: true }, (s) => {
      s.once('data', (d) => {
        const line = d.toString('latin1').split('\r\n')[0] as string;
        upstreamSaw.push(line);
        // "/after-end" answers only once the client has shut its sending side.
        if (line.includes('/after-end')) s.once('end', () => s.end('after end\n')).resume();
        else s.end('upstream\n');
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamPort = (upstream.address() as { port: number }).port;
    proxy = await SniProxy.listen({
      clientOf: (address) => (address === '127.0.0.1' ? { slot: 7, posture } : undefined),
      log: () => {},
      namesFor: (slot, address) => (slot === 7 && address === '127.0.0.1' ? resolved : []),
      destinationOf: async () => ({ address: '127.0.0.1', port: upstreamPort }),
    });
  });
  after(async () => {
    await proxy.close();
    upstream.close();
  });

  const http = (host: string, path = host, halfClose = false) =>
    new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: proxy.port, allowHalfOpen: true });
      let out = '';
      s.on('connect', () => {
        s.write(`GET /${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        if (halfClose) s.end();
      });
      s.on('data', (d) => {
        out += d;
      });
      s.on('end', () => s.end());
      s.on('close', () => resolve(out));
      s.on('error', () => {});
    });

  test('an allowed Host is joined to its destination with its first bytes; another gets 403', async () => {
    posture = { egress: 'deny', inbound: 'deny', allow_domains: [`one.shared.test:${upstreamPort}`] };
    assert.equal(await http('one.shared.test'), 'upstream\n');
    assert.deepEqual(upstreamSaw, ['GET /one.shared.test HTTP/1.1']);
    assert.match(
      await http('two.shared.test'),
      /^HTTP\/1\.1 403 .*two\.shared\.test is not in this sandbox's allow_domains/s,
    );
    // The refused request never reached the destination.
    assert.deepEqual(upstreamSaw, ['GET /one.shared.test HTTP/1.1']);
    assert.ok((proxy.sentBySlot.get(7) ?? 0) > 0, 'bytes through the proxy are counted');
  });

  test('a client that shuts its sending side still gets the answer', async () => {
    posture = { egress: 'deny', inbound: 'deny', allow_domains: [`one.shared.test:${upstreamPort}`] };
    resolved = ['one.shared.test'];
    assert.equal(await http('one.shared.test', 'after-end', true), 'after end\n');
    upstreamSaw.pop();
  });

  test('a TLS server name off the list gets the unrecognized_name alert; no name is refused too', async () => {
    posture = { egress: 'deny', inbound: 'deny', allow_domains: [`one.shared.test:${upstreamPort}`] };
    for (const servername of ['two.shared.test', undefined]) {
      const err = await new Promise<Error>((resolve) => {
        const s = tlsConnect({ host: '127.0.0.1', port: proxy.port, servername, rejectUnauthorized: false });
        s.on('error', resolve);
        s.on('secureConnect', () => resolve(new Error('handshake completed')));
      });
      assert.match(err.message, /unrecognized name/i, String(servername));
    }
    assert.equal(upstreamSaw.length, 1);
  });

  test('an allowed name the sandbox never resolved to this address is refused', async () => {
    posture = {
      egress: 'deny',
      inbound: 'deny',
      allow_domains: [`one.shared.test:${upstreamPort}`, `two.shared.test:${upstreamPort}`],
    };
    resolved = ['one.shared.test'];
    assert.match(await http('two.shared.test'), /^HTTP\/1\.1 403 /);
    resolved = ['one.shared.test', 'two.shared.test'];
    assert.equal(await http('two.shared.test'), 'upstream\n');
  });

  test('the name must be listed for the port the connection goes to', () => {
    const p: NetworkPosture = { egress: 'deny', inbound: 'deny', allow_domains: ['*.shared.test:443'] };
    assert.equal(nameAllowed(p, 'one.shared.test', 443), true);
    assert.equal(nameAllowed(p, 'one.shared.test', 80), false);
    assert.equal(nameAllowed(p, 'shared.test', 443), false);
    assert.equal(nameAllowed(p, undefined, 443), false);
    assert.equal(nameAllowed({ ...p, block: true }, 'one.shared.test', 443), false);
  });
});
