/**
 * The seed Python SDK's network wire shape, end to end: what `create_template("python",
 * network=Network(allow_domains=[...]))` and `create(...)` send (wire-v1.md 4.2, 6.1), sent by
 * httpx (the seed SDK's HTTP client) to a real server on the Linux engine, and enforced inside
 * the sandbox it forks, against the fake internet (no packet leaves the machine).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type LinuxEngine, openDatabase } from '@mitos/engine';
import { type FakeInternet, startFakeInternet, testEngineEnv } from '@mitos/testkit';
import { pino } from 'pino';
import { type RunningServer, startServer } from './server.js';

const execFileAsync = promisify(execFile);

// The seed SDK's calls, in its order; prints one JSON line per response.
const SEED_CALLS = `
import httpx, json, sys
base, key = sys.argv[1], sys.argv[2]
c = httpx.Client(base_url=base, headers={"Authorization": "Bearer " + key}, timeout=60)
def show(r): print(json.dumps({"status": r.status_code, "body": r.json()}))
fetch = "python3 -c \\"import sys, urllib.request\\ntry: print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())\\nexcept Exception as e: print('ERR', type(e).__name__)\\" "
# Network(allow_domains=["allowed.test:80"]).to_dict(): defaults omitted.
show(c.post("/v1/templates", json={"id": "python", "init_wait_seconds": 1, "network": {"allow_domains": ["allowed.test:80"]}}))
show(c.post("/v1/fork", json={"template": "python", "id": "wire-net"}, headers={"Idempotency-Key": "wire-net-1"}))
for url in ["http://allowed.test/", "http://other.test/"]:
    show(c.post("/v1/exec", json={"sandbox": "wire-net", "command": fetch + url, "timeout": 30}))
show(c.post("/v1/templates", json={"id": "python", "init_wait_seconds": 1, "network": {"allow_domains": ["pypi.org"]}}))
`;

describe('seed Python SDK: create_template(network=Network(...)) on the wire', { timeout: 600_000 }, () => {
  const env = testEngineEnv();
  const key = `wire-${process.pid}`;
  let net: FakeInternet;
  let engine: LinuxEngine;
  let server: RunningServer;
  const db = openDatabase(join(env.stateDir, 'mitos.db'));

  before(async () => {
    net = await startFakeInternet();
    engine = await env.open({ db, dnsUpstreams: [net.dns] });
    server = await startServer({ engine, db, port: 0, apiKeys: [key], logger: pino({ level: 'silent' }) });
  });
  after(async () => {
    await server?.close();
    await env.cleanup();
    db.close();
    await net?.stop();
  });

  test('the posture is accepted, echoed resolved, and enforced in the forked sandbox', async () => {
    const { stdout } = await execFileAsync('/usr/bin/python3', ['-c', SEED_CALLS, server.url, key], {
      timeout: 300_000,
    });
    type Reply = { status: number; body: { [k: string]: unknown; error?: { code: string; cause: string } } };
    const replies = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Reply);
    assert.equal(replies.length, 5, stdout);
    const [template, fork, allowed, other, bad] = replies as [Reply, Reply, Reply, Reply, Reply];
    assert.equal(template.status, 200, JSON.stringify(template));
    assert.deepEqual(template.body.network, { egress: 'deny', inbound: 'deny', allow_domains: ['allowed.test:80'] });
    assert.equal(fork.status, 200, JSON.stringify(fork));
    assert.equal(fork.body.id, 'wire-net');
    assert.match(String(allowed.body.stdout), /^fake-internet (203\.0\.113\.10|2001:db8::10)\n$/);
    // Off the list: the name does not resolve (NXDOMAIN from the server's resolver).
    assert.equal(other.body.stdout, 'ERR URLError\n');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error?.code, 'invalid_json');
    assert.match(bad.body.error?.cause ?? '', /^invalid network config: .*pypi\.org/);
  });
});
