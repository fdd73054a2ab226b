/**
 * E2B's `network.allowOut` / `denyOut`, unmodified `e2b` SDK, against a fake internet the test
 * makes: names in allowOut are answered by the server's resolver and opened on 80 and 443 only,
 * addresses and CIDRs are opened as they are, everything else stays closed; a name in denyOut
 * and a blocklist under open internet are refused and make nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type FakeInternet, startFakeInternet } from '@mitos/testkit';
import { ALL_TRAFFIC, Sandbox, SandboxError } from 'e2b';
import { type E2bServer, e2bServer, useE2bEnvironment } from './fixtures.js';

/** The SDK raises a control-plane 4xx/5xx as a SandboxError carrying the status. */
const failedWith = (status: number, message: RegExp) => (err: unknown) =>
  err instanceof SandboxError &&
  (err as SandboxError & { statusCode?: number }).statusCode === status &&
  message.test(err.message);

/** One HTTP GET from inside: the fake internet's answer, or `ERR <what failed>`. */
const GET = (url: string) => `python3 -c '
import sys, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().strip())
except Exception as e:
    print("ERR", type(getattr(e, "reason", e)).__name__)
' ${url}`;

describe('E2B network rules with names, on the server resolver', { timeout: 600_000 }, () => {
  let live: E2bServer;
  let net: FakeInternet;
  const get = async (sb: Sandbox, url: string) => (await sb.commands.run(GET(url))).stdout.trim();

  before(async () => {
    net = await startFakeInternet();
    live = await e2bServer({ templates: ['code-interpreter'], dnsUpstreams: [net.dns] });
    useE2bEnvironment(live);
  });
  after(async () => {
    try {
      await live?.stop();
    } finally {
      await net?.stop();
    }
  });

  test('allowOut names, wildcards and addresses open; the rest of the internet stays shut', async () => {
    const sb = await Sandbox.create('python', {
      timeoutMs: 120_000,
      network: { allowOut: ['allowed.test', '*.wild.test', net.addresses.shared], denyOut: [ALL_TRAFFIC] },
    });
    try {
      const { allowed, other, shared } = net.addresses;
      // Before any name resolved to it, the other address is closed.
      assert.match(await get(sb, `http://${other}/`), /^ERR/);
      assert.equal(await get(sb, 'http://allowed.test/'), `fake-internet ${allowed}`);
      assert.equal(await get(sb, `http://${shared}/`), `fake-internet ${shared}`);
      // A name off the list is not answered (and never asked upstream).
      assert.equal(await get(sb, 'http://other.test/'), 'ERR gaierror');
      assert.ok(!(await net.dnsLog()).includes('other.test'), 'a name off the list is not asked upstream');
      assert.equal(await get(sb, 'http://api.wild.test/'), `fake-internet ${other}`);
      // The granted address serves only the names on the list: another Host is refused.
      const forged = await sb.commands.run(
        `python3 -c 'import urllib.request as u
try: u.urlopen(u.Request("http://${allowed}/", headers={"Host": "other.test"}), timeout=5)
except Exception as e: print(getattr(e, "code", type(e).__name__))'`,
      );
      assert.equal(forged.stdout.trim(), '403');
      // Names open 80 and 443 only, as E2B filters them: another port of an allowed name is shut.
      assert.match(await get(sb, 'http://allowed.test:8080/'), /^ERR/);
    } finally {
      await sb.kill();
    }
  });

  test('updateNetwork swaps the names a running sandbox may reach; getInfo reports the rules', async () => {
    const sb = await Sandbox.create('python', {
      timeoutMs: 120_000,
      network: { allowOut: ['allowed.test'], denyOut: [ALL_TRAFFIC] },
    });
    try {
      assert.equal(await get(sb, 'http://allowed.test/'), `fake-internet ${net.addresses.allowed}`);
      const before = (await sb.getInfo()).network;
      assert.deepEqual([before?.allowOut, before?.denyOut], [['allowed.test'], [ALL_TRAFFIC]]);
      await sb.updateNetwork({ allowOut: ['other.test'], denyOut: [ALL_TRAFFIC] });
      assert.deepEqual((await sb.getInfo()).network?.allowOut, ['other.test']);
      assert.equal(await get(sb, 'http://other.test/'), `fake-internet ${net.addresses.other}`);
      assert.equal(await get(sb, 'http://allowed.test/'), 'ERR gaierror');
    } finally {
      await sb.kill();
    }
  });

  test('a name in denyOut and a blocklist under open internet are refused and make nothing', async () => {
    const before = (await Sandbox.list().nextItems()).length;
    await assert.rejects(
      Sandbox.create('python', { network: { allowOut: ['allowed.test'], denyOut: ['other.test'] } }),
      failedWith(400, /denyOut "other\.test" is not an address or CIDR/),
    );
    await assert.rejects(
      Sandbox.create('python', { allowInternetAccess: true, network: { denyOut: [net.addresses.other] } }),
      failedWith(501, /not_implemented/),
    );
    // A port smuggled into a name is not a name.
    await assert.rejects(
      Sandbox.create('python', { network: { allowOut: ['allowed.test:22'], denyOut: [ALL_TRAFFIC] } }),
      failedWith(400, /allowOut "allowed\.test:22" is not an address, CIDR or domain name/),
    );
    assert.equal((await Sandbox.list().nextItems()).length, before);
  });
});
