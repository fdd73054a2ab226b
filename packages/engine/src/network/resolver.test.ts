import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { NetworkPosture } from '@mitos/protocol';
import { type FakeDns, type FakeZone, startFakeDns } from '@mitos/testkit';
import dnsPacket from 'dns-packet';
import type { DnsGrant } from './dns-policy.js';
import { DnsResolver, parseUpstream } from './resolver.js';

// An upstream on loopback for the resolver's own logic; the end-to-end path (nftables
// redirect, sets, sandboxes) is network.test.ts against the fake internet.
const ZONE: FakeZone = {
  'pypi.test': [
    { name: 'pypi.test', type: 'A', ttl: 5, data: '198.51.100.7' },
    { name: 'pypi.test', type: 'AAAA', ttl: 600, data: '2001:db8::7' },
  ],
  'open.test': [{ name: 'open.test', type: 'A', ttl: 60, data: '198.51.100.9' }],
};

/** dns-packet decodes more than its types say. */
interface Decoded {
  id: number;
  rcode: string;
  answers?: Array<{ data: unknown }>;
}

describe('the sandbox resolver', () => {
  let upstream: FakeDns;
  let resolver: DnsResolver;
  const grants: Array<{ slot: number; grants: DnsGrant[] }> = [];
  const postures = new Map<string, NetworkPosture>([
    ['10.9.0.3', { egress: 'deny', inbound: 'deny', allow_domains: ['pypi.test:443', '*.pypi.test:443'] }],
    ['10.9.0.5', { egress: 'allow', inbound: 'deny' }],
  ]);

  before(async () => {
    upstream = await startFakeDns(ZONE);
    resolver = await DnsResolver.listen({
      upstreams: [{ host: '127.0.0.1', port: upstream.socket.address().port }],
      clientOf: (address) => {
        const plain = address.replace('::ffff:', '');
        const posture = postures.get(plain);
        return posture && { slot: plain === '10.9.0.3' ? 1 : 2, posture };
      },
      grant: async (slot, g) => {
        grants.push({ slot, grants: g });
      },
      log: () => {},
    });
  });
  after(async () => {
    await resolver.close();
    await upstream.close();
  });

  const ask = async (source: string, name: string, type: 'A' | 'AAAA' = 'A'): Promise<Decoded> => {
    const query = dnsPacket.encode({
      id: 7,
      type: 'query',
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name, type }],
    });
    const out = await resolver.answer(query, source);
    assert.ok(out, 'an answer');
    return dnsPacket.decode(out) as unknown as Decoded;
  };

  test('an allowed name is forwarded and its addresses granted on its ports for their TTL (30 s at least)', async () => {
    const [a, aaaa] = await Promise.all([ask('10.9.0.3', 'pypi.test'), ask('10.9.0.3', 'pypi.test', 'AAAA')]);
    assert.equal(a.id, 7);
    assert.deepEqual(
      a.answers?.map((x) => x.data),
      ['198.51.100.7'],
    );
    assert.deepEqual(
      aaaa.answers?.map((x) => x.data),
      ['2001:db8::7'],
    );
    const all = grants.filter((g) => g.slot === 1).flatMap((g) => g.grants);
    assert.deepEqual(
      all.map((g) => [g.address, g.ports, g.ttl]).sort(),
      [
        ['198.51.100.7', [443], 30],
        ['2001:db8::7', [443], 600],
      ].sort(),
    );
  });

  test('a granted address is not programmed again while its entry lives', async () => {
    const before = grants.length;
    await ask('10.9.0.3', 'pypi.test', 'AAAA');
    assert.equal(grants.length, before);
    resolver.forget(1);
    await ask('10.9.0.3', 'pypi.test', 'AAAA');
    assert.equal(grants.length, before + 1);
  });

  test('a name off the list is NXDOMAIN and never asked upstream; wildcards match subdomains only', async () => {
    const refused = await ask('10.9.0.3', 'open.test');
    assert.equal(refused.rcode, 'NXDOMAIN');
    assert.ok(!upstream.asked.some((q) => q === 'open.test'));
    await ask('10.9.0.3', 'cdn.pypi.test');
    assert.ok(upstream.asked.includes('cdn.pypi.test'), 'a wildcard name is asked upstream');
    assert.equal((await ask('10.9.0.3', 'evilpypi.test')).rcode, 'NXDOMAIN');
  });

  test('egress allow gets every name answered and nothing granted; strangers are refused', async () => {
    const before = grants.length;
    const open = await ask('10.9.0.5', 'open.test');
    assert.deepEqual(
      open.answers?.map((x) => x.data),
      ['198.51.100.9'],
    );
    assert.equal(grants.length, before);
    assert.equal((await ask('127.0.0.1', 'open.test')).rcode, 'REFUSED');
  });

  test('upstreams parse as ip[:port] and refuse anything else', () => {
    assert.deepEqual(parseUpstream('192.0.2.1'), { host: '192.0.2.1', port: 53 });
    assert.deepEqual(parseUpstream('192.0.2.1:5353'), { host: '192.0.2.1', port: 5353 });
    assert.deepEqual(parseUpstream('[2001:db8::1]:54'), { host: '2001:db8::1', port: 54 });
    assert.deepEqual(parseUpstream('2001:db8::1'), { host: '2001:db8::1', port: 53 });
    assert.throws(() => parseUpstream('resolver.example'));
  });
});
