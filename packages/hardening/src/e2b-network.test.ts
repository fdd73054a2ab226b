/**
 * E2B network rules under attack, from inside a sandbox created through /e2b with names in
 * `allowOut`: the metadata service and a rebinding name listed as allowed, another port of an
 * allowed name, the server's own port, a name off the list, what another tenant's sandbox
 * resolved; and from the API: names in denyOut, ports smuggled into names. No packet leaves
 * this host (a fake internet in its own network namespace answers).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type FakeInternet, shellOf, startFakeInternet } from '@mitos/testkit';
import { Recorder } from './figures.js';
import { hostHealth } from './host.js';
import { send } from './http.js';
import { type LiveServer, liveServer, stopAndCheck } from './live.js';

const rec = new Recorder('e2b-network', 'E2B network rules: names in allowOut and denyOut', 10);
const KEY_A = `e2b_${randomBytes(20).toString('hex')}`;
const KEY_B = `e2b_${randomBytes(20).toString('hex')}`;
const ALL = '0.0.0.0/0';

/**
 * Connects from inside: `OK`, or `ERR <errno>`. The host's reject is EHOSTUNREACH (113) over
 * IPv4 and EACCES (13) over IPv6, never the far end's ECONNREFUSED (111).
 */
const CONNECT = (host: string, port: number) => `python3 -c '
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3); print("OK")
except socket.gaierror: print("ERR gaierror")
except OSError as e: print("ERR", e.errno)
' ${host} ${port}`;

describe('E2B network rules: hostile sandboxes and requests', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let net: FakeInternet;
  const sh = shellOf(() => live.engine, 30_000);
  const connect = async (id: string, host: string, port: number) => (await sh(id, CONNECT(host, port))).out.trim();

  const create = (key: string, network: unknown) =>
    send(live.url, {
      method: 'POST',
      path: '/e2b/sandboxes',
      headers: { 'Content-Type': 'application/json', 'X-API-KEY': key },
      body: JSON.stringify({ templateID: 'python', timeout: 300, network }),
    });
  const created = async (key: string, network: unknown) => {
    const res = await create(key, network);
    assert.equal(res.status, 201, res.body);
    return (JSON.parse(res.body) as { sandboxID: string }).sandboxID;
  };

  function contained(attack: string, outcome: string): void {
    const health = hostHealth();
    assert.ok(health.ok, `host after ${attack}: ${health.detail}`);
    rec.count('attacks');
    rec.check(attack, outcome);
  }

  before(async () => {
    net = await startFakeInternet();
    live = await liveServer({ apiKeys: [KEY_A, KEY_B], engineOptions: { dnsUpstreams: [net.dns] } });
    // E2B's `python` runs the code interpreter's image (python with the `user` account).
    await live.engine.ensureTemplate({ id: 'code-interpreter' });
  });
  after(async () => {
    try {
      await stopAndCheck(live, rec, [KEY_A, KEY_B]);
    } finally {
      await net?.stop();
    }
  });

  test('listing metadata, a rebinding name and the host in allowOut opens none of them', async () => {
    const apiPort = Number(new URL(live.url).port);
    const id = await created(KEY_A, {
      allowOut: [net.addresses.metadata, 'rebind.test', 'allowed.test', net.hostAddress],
      denyOut: [ALL],
    });
    // Listed as an address, metadata is still dropped before any allow rule.
    assert.match(await connect(id, net.addresses.metadata, 80), /^ERR/);
    // rebind.test answers metadata, loopback and a private address: none is granted.
    assert.equal(await connect(id, 'rebind.test', 80), 'ERR gaierror');
    // The server's API port on the host, through the link the sandbox has.
    assert.match(await connect(id, net.hostAddress, apiPort), /^ERR/);
    assert.match(await connect(id, '127.0.0.1', apiPort), /^ERR/);
    // An allowed name opens 80 and 443 of its addresses, no other port.
    assert.equal(await connect(id, 'allowed.test', 80), 'OK');
    assert.match(await connect(id, 'allowed.test', 8080), /^ERR (113|13)$/);
    contained('allowOut listing metadata, a rebinding name and the host', 'none reachable; allowed.test on 80 only');
  });

  test("what one tenant's sandbox resolved stays shut for another tenant's", async () => {
    const a = await created(KEY_A, { allowOut: ['api.wild.test'], denyOut: [ALL] });
    const b = await created(KEY_B, { allowOut: ['allowed.test'], denyOut: [ALL] });
    assert.equal(await connect(a, 'api.wild.test', 80), 'OK');
    // api.wild.test is 203.0.113.20: granted to a, not to b, and b's list does not name it.
    assert.equal(await connect(b, net.addresses.other, 80), 'ERR 113');
    assert.equal(await connect(b, 'api.wild.test', 80), 'ERR gaierror');
    contained("another tenant's resolved address", 'rejected by the host (EHOSTUNREACH)');
  });

  test('names in denyOut, ports in names and blocklists are refused and make nothing', async () => {
    const before = live.engine.list().length;
    for (const network of [
      { allowOut: ['allowed.test'], denyOut: ['other.test'] },
      { allowOut: ['allowed.test:8080'], denyOut: [ALL] },
      { allowOut: ['*'], denyOut: [ALL] },
      { allowOut: ['allowed.test\n'], denyOut: [ALL] },
    ]) {
      const res = await create(KEY_A, network);
      assert.equal(res.status, 400, `${JSON.stringify(network)}: ${res.body}`);
    }
    const blocklist = await send(live.url, {
      method: 'POST',
      path: '/e2b/sandboxes',
      headers: { 'Content-Type': 'application/json', 'X-API-KEY': KEY_A },
      body: JSON.stringify({ templateID: 'python', allow_internet_access: true, network: { denyOut: ['10.0.0.0/8'] } }),
    });
    assert.equal(blocklist.status, 501);
    assert.equal(live.engine.list().length, before);
    contained('names in denyOut, ports and wildcards-only in allowOut', '400 / 501, nothing created');
  });
});
