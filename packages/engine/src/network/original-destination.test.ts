import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonical, findOriginalDestination } from './original-destination.js';

// Lines as /proc/net/nf_conntrack prints them (IPv6 in full groups), for redirected connections.
const TABLE = [
  'ipv4     2 tcp      6 299 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=41000 dport=80 src=127.0.0.1 dst=127.0.0.1 sport=80 dport=41000 [ASSURED] mark=0 zone=0 use=2',
  'ipv4     2 tcp      6 299 ESTABLISHED src=10.77.0.3 dst=203.0.113.30 sport=41000 dport=443 src=10.77.0.2 dst=10.77.0.3 sport=39999 dport=41000 [ASSURED] mark=0 zone=0 use=2',
  'ipv6     10 tcp      6 299 ESTABLISHED src=fd6d:0000:0000:0000:0000:0000:0000:0003 dst=2001:0db8:0000:0000:0000:0000:0000:0010 sport=52000 dport=80 src=fd6d:0000:0000:0000:0000:0000:0000:0002 dst=fd6d:0000:0000:0000:0000:0000:0000:0003 sport=39999 dport=52000 mark=0 zone=0 use=2',
].join('\n');

test('the original destination of a redirected connection, v4 and v6', () => {
  assert.deepEqual(
    findOriginalDestination(TABLE, { clientAddress: '::ffff:10.77.0.3', clientPort: 41000, proxyPort: 39999 }),
    { address: '203.0.113.30', port: 443 },
  );
  assert.deepEqual(findOriginalDestination(TABLE, { clientAddress: 'fd6d::3', clientPort: 52000, proxyPort: 39999 }), {
    address: '2001:db8:0:0:0:0:0:10',
    port: 80,
  });
  // Another client, or a connection not redirected to this proxy: nothing.
  assert.equal(
    findOriginalDestination(TABLE, { clientAddress: '10.77.0.4', clientPort: 41000, proxyPort: 39999 }),
    undefined,
  );
  assert.equal(
    findOriginalDestination(TABLE, { clientAddress: '127.0.0.1', clientPort: 41000, proxyPort: 39999 }),
    undefined,
  );
});

test('one spelling per address', () => {
  assert.equal(canonical('::FFFF:10.0.0.1'), '10.0.0.1');
  assert.equal(canonical('2001:db8::10'), canonical('2001:0db8:0000:0000:0000:0000:0000:0010'));
  assert.equal(canonical('::1'), '0:0:0:0:0:0:0:1');
});
