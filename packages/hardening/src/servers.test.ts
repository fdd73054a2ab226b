/**
 * Several servers on one host, and the credentials that outlive a sandbox: a second `mitos
 * serve` (its own state dir, even told to use the first one's cgroup parent) must not touch
 * the first one's live sandboxes; a dead pooled sandbox is replaced, never returned as a 500;
 * a preview URL dies with its sandbox even when the id is reused; and a port forward on a
 * server with API keys is not open to every local user. Each test failed before issue 12.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { create, type Sandbox } from '@mitos/sdk';
import { type TestEngineEnv, testEngineEnv } from '@mitos/testkit';
import { Recorder } from './figures.js';
import { cgroupParentDirs, leaksOf, pidAlive, sandboxCgroupName, sandboxHostPids } from './host.js';
import { freePort, type ServeProcess, spawnServe, stopServe, waitHealthy } from './live.js';

const rec = new Recorder('servers', 'Several servers on one host; credentials that outlive a sandbox', 9);
const KEY = `servers-key-${randomBytes(8).toString('hex')}`;

/** Sends `preface` then an HTTP request on a raw connection; resolves with whatever came back. */
function rawRequest(hostPort: string, preface: string): Promise<string> {
  const [host, port] = hostPort.split(':') as [string, string];
  return new Promise((resolve) => {
    const socket = connect(Number(port), host, () => socket.write(`${preface}GET / HTTP/1.0\r\n\r\n`));
    let got = '';
    socket.setEncoding('utf8').on('data', (d: string) => {
      got += d;
    });
    socket.on('close', () => resolve(got));
    socket.on('error', () => resolve(got));
    socket.setTimeout(15_000, () => socket.destroy());
  });
}

describe('servers on one host never interfere', { timeout: 600_000 }, () => {
  let env1: TestEngineEnv;
  let env2: TestEngineEnv;
  let s1: ServeProcess;
  let s2: ServeProcess | undefined;
  let first: Sandbox;
  const opts = () => ({ baseUrl: s1.url, apiKey: KEY });

  before(async () => {
    env1 = testEngineEnv();
    env2 = testEngineEnv();
    s1 = spawnServe(env1, await freePort(), { apiKeys: [KEY] });
    await waitHealthy(s1.url, 300_000, { authorization: `Bearer ${KEY}` });
    first = await create('python', opts());
    await first.files.write('/workspace/marker', 'first server');
  });

  after(async () => {
    for (const f of [
      'a second server\u2019s recovery deleted every cgroup under the shared parent that its own database did not know, killing the first server\u2019s sandboxes (now: a parent per state dir, and recovery touches only its own rows)',
      'a dead pooled sandbox was handed out and the create answered 500 (now checked alive, a dead one reaped and replaced)',
      'preview tokens named only (id, port): a URL outlived its sandbox and opened the next one with the same id (now bound to the instance)',
      'port forwards of a server with API keys were open to every local user (now a per-forward token unless opened explicitly)',
    ])
      rec.finding(f);
    if (s2) await stopServe(s2);
    await stopServe(s1);
    // The second server shared the first one's cgroup parent: its sandboxes go with env1's.
    await env2.cleanup();
    await env1.cleanup();
    const leaks = [...leaksOf(env1.stateDir, env1.cgroupParent), ...leaksOf(env2.stateDir, env2.cgroupParent)];
    rec.count('leaks_found', leaks.length);
    rec.save();
    assert.deepEqual(leaks, []);
  });

  test('a second server with live sandboxes leaves the first one\u2019s alone', async () => {
    const pidsBefore = sandboxHostPids(env1.cgroupParent, sandboxCgroupName(env1.stateDir, first.id));
    assert.ok(pidsBefore.length > 0, 'first sandbox has no host pids');
    // The worst case: configured with the same cgroup parent as the first server.
    s2 = spawnServe({ ...env2, cgroupParent: env1.cgroupParent }, await freePort());
    await waitHealthy(s2.url, 300_000);
    const second = await create('python', { baseUrl: s2.url });
    assert.equal((await second.exec('echo second')).stdout, 'second\n');
    for (const pid of pidsBefore) assert.ok(pidAlive(pid), `first server's sandbox process ${pid} was killed`);
    assert.equal((await first.exec('cat /workspace/marker')).stdout, 'first server');
    assert.equal((await second.exec('echo again')).stdout, 'again\n');
    rec.check(
      'start a second server (own state dir, same cgroup parent) while the first has a live sandbox',
      'both sandboxes keep running and answering',
    );
    rec.count('attacks');
  });

  test('a pooled sandbox killed from the host is replaced, not handed out', async () => {
    const pooled = () =>
      cgroupParentDirs(env1.cgroupParent)
        .flatMap((d) => readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()))
        .map((e) => e.name)
        // A pooled sandbox's cgroups are named pool.<tag> (kept when it is handed out).
        .filter((n) => n.startsWith('pool.'));
    let names: string[] = [];
    for (let i = 0; i < 300 && names.length === 0; i++) {
      names = [...new Set(pooled())];
      if (names.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(names.length > 0, 'the first server filled no warm pool');
    for (const name of names)
      for (const pid of sandboxHostPids(env1.cgroupParent, name)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch (err) {
          // Listed, then gone before the kill (a command of the pool's own warm-up): nothing to kill.
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
        }
      }
    const sb = await create('python', opts());
    assert.equal((await sb.exec('echo alive')).stdout, 'alive\n');
    rec.check('SIGKILL every pooled sandbox from the host, then create', 'a live sandbox was created');
    rec.count('attacks');
  });

  test('forks get a host uid range of their own', async () => {
    const range = async (sb: Sandbox) => (await sb.exec('cat /proc/self/uid_map')).stdout.trim().split(/\s+/)[1];
    const [child] = await first.fork(1);
    assert.ok(child);
    const [p, c] = [await range(first), await range(child)];
    assert.notEqual(p, c, `parent and fork share host uid ${p}`);
    assert.equal((await child.exec('cat /workspace/marker')).stdout, 'first server');
    rec.check('fork a sandbox and compare host uid ranges', `parent ${p}, child ${c}`);
  });

  test('a preview URL does not open a later sandbox that reuses the id', async () => {
    const id = `reuse-${randomBytes(4).toString('hex')}`;
    const old = await create('python', { ...opts(), id });
    const { url } = await old.preview(8000);
    await old.terminate();
    const reborn = await create('python', { ...opts(), id });
    const res = await fetch(url);
    const body = (await res.json()) as { error?: { code?: string } };
    assert.equal(res.status, 403, `old preview URL answered ${res.status}`);
    assert.equal(body.error?.code, 'forbidden');
    const fresh = await fetch((await reborn.preview(8000)).url);
    assert.notEqual(fresh.status, 403, 'a new preview URL for the new sandbox is refused');
    rec.check('open a preview URL minted before the id was deleted and re-created', '403 forbidden');
    rec.count('attacks');
  });

  test('a port forward on a server with API keys needs its token, unless opened explicitly', async () => {
    await first.exec('nohup python3 -m http.server 8000 --bind 127.0.0.1 >/dev/null 2>&1 &');
    const fwd = await first.forward(8000);
    assert.ok(fwd.token, 'no token on a forward of a server with API keys');
    let withToken = '';
    for (let i = 0; i < 50 && !withToken.startsWith('HTTP/'); i++) {
      withToken = await rawRequest(fwd.host, `${fwd.token}\n`);
      if (!withToken.startsWith('HTTP/')) await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(withToken, /^HTTP\/1\.0 200/);
    assert.equal(await rawRequest(fwd.host, ''), '', 'the forward answered without its token');
    assert.equal(await rawRequest(fwd.host, 'wrong-token\n'), '', 'the forward answered a wrong token');
    const open = await first.forward(8000, { open: true });
    assert.equal(open.token, undefined);
    assert.match(await rawRequest(open.host, ''), /^HTTP\/1\.0 200/);
    rec.check('a local user connects to a forward without the token', 'connection closed, nothing relayed');
    rec.count('attacks');
  });
});
