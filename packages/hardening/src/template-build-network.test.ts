/**
 * The two surfaces templates-as-code grew: build steps under a network posture (a RUN given
 * one package index tries to reach everything else: the cloud metadata service, the server's
 * own API port on the host, another address, another port of the allowed one), and build
 * context blobs sent in parts (parts out of order, past their total, bytes that are not their
 * name, names that are paths). Nothing may get through, and a refused upload stores nothing.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SandboxServer, Template } from '@mitos/sdk';
import { type FakeInternet, startFakeInternet } from '@mitos/testkit';
import { Recorder } from './figures.js';
import { hostHealth } from './host.js';
import { type LiveServer, liveServer, stopAndCheck } from './live.js';

const rec = new Recorder('template-build-network', 'Template builds: the build posture and context parts', 10);

describe('hostile build steps and context uploads are held to their limits', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let server: SandboxServer;
  let net: FakeInternet;

  before(async () => {
    net = await startFakeInternet();
    live = await liveServer();
    server = new SandboxServer({ baseUrl: live.url });
    await server.createTemplate('python');
  });
  after(async () => {
    try {
      await stopAndCheck(live, rec);
    } finally {
      await net?.stop();
    }
  });

  function contained(attack: string, outcome: string): void {
    const health = hostHealth();
    assert.ok(health.ok, `host after ${attack}: ${health.detail}`);
    rec.count('attacks');
    rec.check(attack, outcome);
  }

  test('a build step given one index cannot reach metadata, the host API, another address or port', async () => {
    const apiPort = new URL(live.url).port;
    const allowed = net.addresses.allowed;
    const targets = {
      index: `http://${allowed}/`,
      metadata: `http://${net.addresses.metadata}/latest/meta-data/`,
      hostApiViaLink: `http://${net.hostAddress}:${apiPort}/health`,
      hostApiLoopback: `http://127.0.0.1:${apiPort}/health`,
      other: `http://${net.addresses.other}/`,
      otherPort: `http://${allowed}:8080/`,
    };
    const probes = Object.entries(targets)
      .map(
        ([name, url]) =>
          `if curl -fsS --max-time 3 -o /dev/null ${url}; then echo ${name}=reached; else echo ${name}=refused; fi`,
      )
      .join('; ');
    const lines: string[] = [];
    await new Template()
      .fromImage('python')
      .run(`${probes}; echo ${randomBytes(4).toString('hex')}`)
      .build('hostile-build-net', {
        server,
        buildNetwork: { allow_cidrs: [`${allowed}/32:80`] },
        onLogs: (l) => lines.push(l),
      });
    assert.deepEqual(
      lines.filter((l) => /^\w+=(reached|refused)$/.test(l)),
      [
        'index=reached',
        'metadata=refused',
        'hostApiViaLink=refused',
        'hostApiLoopback=refused',
        'other=refused',
        'otherPort=refused',
      ],
    );
    contained('build step under a one-address posture reaches for metadata, host API, other hosts', 'refused');
  });

  test('context parts: out of order, past the total, wrong bytes and path names are refused; nothing is stored', async () => {
    const blob = randomBytes(3000);
    const digest = createHash('sha256').update(blob).digest('hex');
    const part = (name: string, query: string, body: Uint8Array) =>
      fetch(`${live.url}/v1/template-context/${name}${query}`, { method: 'POST', body });
    const missing = async () =>
      (
        (await (
          await fetch(`${live.url}/v1/template-context/missing`, {
            method: 'POST',
            body: JSON.stringify({ digests: [digest] }),
          })
        ).json()) as { missing: string[] }
      ).missing;

    assert.equal((await part(digest, '?offset=0&total=3000', blob.subarray(0, 1000))).status, 200);
    const skipped = await part(digest, '?offset=2000&total=3000', blob.subarray(2000));
    assert.equal(skipped.status, 409);
    assert.equal(((await skipped.json()) as { error: { context: { received: number } } }).error.context.received, 1000);
    assert.equal((await part(digest, '?offset=1000&total=1500', blob.subarray(1000))).status, 400);
    assert.equal((await part(digest, '?offset=-1&total=3000', blob)).status, 400);
    assert.equal((await part(digest, '?offset=0&total=99999999999999', blob)).status, 400);
    // The last part completes the blob with bytes that are not its name: refused, not stored.
    const forged = Buffer.from(blob.subarray(1000));
    forged[0] = (forged[0] as number) ^ 0xff;
    const wrong = await part(digest, '?offset=1000&total=3000', forged);
    assert.equal(wrong.status, 400);
    assert.match(((await wrong.json()) as { error: { cause: string } }).error.cause, /has SHA-256/);
    assert.deepEqual(await missing(), [digest]);
    for (const name of ['..%2F..%2Fetc%2Fpasswd', `${digest.slice(0, 63)}/`, 'A'.repeat(64)]) {
      const r = await part(name, '?offset=0&total=3', Buffer.from('abc'));
      assert.ok([400, 404].includes(r.status), `${name}: ${r.status}`);
    }
    // A fresh, honest upload in parts still lands.
    assert.equal((await part(digest, '?offset=0&total=3000', blob.subarray(0, 1500))).status, 200);
    const done = await part(digest, '?offset=1500&total=3000', blob.subarray(1500));
    assert.deepEqual(await done.json(), { status: 'ok', received: 3000, complete: true });
    assert.deepEqual(await missing(), []);
    contained('context parts out of order, past total, forged, path names', 'refused; a forged blob is not stored');
  });
});
