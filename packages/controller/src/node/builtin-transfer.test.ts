import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '@mitos/engine';
import { listenApi, type RunningServer } from '@mitos/server';
import { shellOf, testEngineEnv, until } from '@mitos/testkit';
import pino from 'pino';
import { exportedDigest } from '../testing/template-export.js';
import { createControlApi } from './control-api.js';
import { SandboxLedger } from './ledger.js';
import { NodeSandboxes } from './node-sandboxes.js';
import { TemplateTransfer } from './template-transfer.js';

const KEY = 'k'.repeat(32);
const IMAGE = 'base';

// A node that joins with an empty image cache gets a built-in from a node that has it, by
// transfer: two real engines, the holder on this host's shared cache, the newcomer on a cache
// dir of its own that starts empty and whose Debian mirror does not exist, so any build step
// would fail. `base` is the smallest built-in (about 230 MB); python and the layered images go
// the same way with larger trees.
describe('node: a built-in image a node lacks is fetched from a node that has it, not built', {
  timeout: 900_000,
}, () => {
  const holderEnv = testEngineEnv();
  const newEnv = testEngineEnv();
  let holderEngine: Engine;
  let newEngine: Engine;
  let holder: NodeSandboxes;
  let newcomer: NodeSandboxes;
  let control: RunningServer;
  let endpoint: string;
  const cacheDir = join(newEnv.stateDir, 'cache');
  const sh = shellOf(() => newEngine, 30_000);

  before(async () => {
    holderEngine = await holderEnv.open();
    await holderEngine.ensureTemplate({ id: IMAGE });
    newEngine = await newEnv.open({ cacheDir, mirror: 'http://mirror.invalid/debian' });
    holder = new NodeSandboxes(holderEngine, SandboxLedger.open(undefined), 8);
    holder.transfer = new TemplateTransfer(holderEngine, join(holderEnv.stateDir, 'xfer'), KEY);
    newcomer = new NodeSandboxes(newEngine, SandboxLedger.open(undefined), 8);
    newcomer.transfer = new TemplateTransfer(newEngine, join(newEnv.stateDir, 'xfer'), KEY);
    control = await listenApi({ host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }) }, () =>
      createControlApi({ sandboxes: holder, nodeName: 'holder', nodeKey: KEY, logger: pino({ level: 'silent' }) }),
    );
    endpoint = `127.0.0.1:${control.port}`;
  });
  after(async () => {
    await control?.close();
    holder?.transfer?.close();
    newcomer?.transfer?.close();
    await newEnv.cleanup();
    await holderEnv.cleanup();
  });

  const imagesIn = () => (existsSync(join(cacheDir, 'images')) ? readdirSync(join(cacheDir, 'images')) : []);
  const fetchFrom = async (from: string, digest: string) => {
    newcomer.prepareTemplate(IMAGE, { fetch: { endpoint: from, digest } });
    await until(() => newcomer.templateReport(IMAGE).state !== 'building', 600_000, `the fetch from ${from}`);
    return newcomer.templateReport(IMAGE);
  };

  test('the newcomer reports it absent and uncached, and a claim on it builds nothing', async () => {
    assert.equal(holder.templateReport(IMAGE).cached, true);
    const report = newcomer.templateReport(IMAGE);
    assert.equal(report.state, 'absent');
    assert.equal(report.cached, undefined);
    await assert.rejects(
      newcomer.acquire({ namespace: 'default', pool: 'p', claim: 'c0', image: IMAGE, token: 'a'.repeat(64) }),
      (err: Error & { code?: string; detail?: string }) =>
        err.code === 'template_not_ready' && /not in this node's cache/.test(err.detail ?? ''),
    );
    assert.equal(newcomer.templateReport(IMAGE).state, 'absent', 'the claim started no build');
    assert.deepEqual(imagesIn(), []);
  });

  test('a corrupted tree is refused by digest, then the tree comes from the holder and runs', async (t) => {
    const open = await fetch(`http://${endpoint}/node/v1/templates/${IMAGE}/export`, { method: 'POST' });
    assert.equal(open.status, 401);
    const started = performance.now();
    const digest = await exportedDigest(endpoint, IMAGE, KEY);
    t.diagnostic(`export of built-in ${IMAGE}: ${Math.round(performance.now() - started)} ms`);

    // A hostile holder in front of the real one: the manifest and config intact, the tree not.
    const manifest = (await (
      await fetch(`http://${endpoint}/node/v1/template-blobs/${digest}`, {
        headers: { authorization: `Bearer ${KEY}` },
      })
    ).json()) as { layers: Array<{ digest: string; size: number }> };
    const layer = manifest.layers[0]?.digest;
    assert.ok(layer);
    let tampered = 0;
    const proxy: Server = createServer(async (req, res) => {
      if (req.url?.endsWith(layer)) {
        tampered++;
        res.writeHead(200).end('not the tree');
        return;
      }
      const upstream = await fetch(`http://${endpoint}${req.url}`, {
        headers: { authorization: req.headers.authorization ?? '' },
      });
      res.writeHead(upstream.status).end(Buffer.from(await upstream.arrayBuffer()));
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const hostile = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const refused = await fetchFrom(hostile, digest);
      assert.equal(refused.state, 'failed');
      assert.equal(tampered, 3, 'fetched again, then refused');
      assert.match(refused.failures[0]?.error ?? '', /has digest sha256:[0-9a-f]{64} \(3 attempts\); refused/);
      assert.deepEqual(imagesIn(), [], 'nothing half-made in the image cache');
    } finally {
      await new Promise((r) => proxy.close(r));
    }

    const fetchStarted = performance.now();
    const report = await fetchFrom(endpoint, digest);
    t.diagnostic(`fetch + install + prepare of ${IMAGE}: ${Math.round(performance.now() - fetchStarted)} ms`);
    assert.equal(report.state, 'ready');
    assert.equal(report.via, endpoint, 'the node says where the tree came from');
    assert.deepEqual(newcomer.capacity().fetched, [IMAGE]);
    const own = newEngine.builtImages?.metadata(IMAGE);
    const theirs = holderEngine.builtImages?.metadata(IMAGE);
    assert.equal(own?.transferredFrom, endpoint);
    assert.equal(own?.builtAt, theirs?.builtAt, 'the holder’s build, not a new one');
    assert.equal(own?.entries, theirs?.entries);
    assert.equal(newcomer.templateReport(IMAGE).cached, true);

    const { sandboxId } = await newcomer.acquire({
      namespace: 'default',
      pool: 'p',
      claim: 'c1',
      image: IMAGE,
      token: 'b'.repeat(64),
    });
    // Owned by the sandbox's root as on the holder (the uid shift), and writable by it.
    const r = await sh(sandboxId, 'stat -c %u:%g /etc/passwd /usr/bin; touch /root/x && echo written');
    assert.equal(r.out, '0:0\n0:0\nwritten\n');
    await newcomer.terminate(sandboxId);
  });
});
