import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '@mitos/engine';
import { listenApi, type RunningServer } from '@mitos/server';
import { shellOf, testEngineEnv, until } from '@mitos/testkit';
import pino from 'pino';
import { API_VERSION } from '../api/group.js';
import { templateSource } from '../controller/template-source.js';
import { exportedDigest } from '../testing/template-export.js';
import { templateIdFor } from '../util/ids.js';
import { createControlApi } from './control-api.js';
import { SandboxLedger } from './ledger.js';
import { NodeSandboxes, type TemplateRecipe } from './node-sandboxes.js';
import { TemplateTransfer } from './template-transfer.js';

const KEY = 'k'.repeat(32);

// Template distribution between two node daemons' sides on the real linux engine: node A builds a
// spec template (a step that writes random bytes, so a rebuild anywhere would differ), exports it
// over its control API, and node B imports it from there with no step run. Both nodes share one
// engine here (the image key tells their templates apart); the transfer is real HTTP, real umoci.
describe('node: a template built on one node is fetched by another, verified by digest', { timeout: 900_000 }, () => {
  const env = testEngineEnv();
  let engine: Engine;
  let holder: NodeSandboxes;
  let fetcher: NodeSandboxes;
  let control: RunningServer;
  let endpoint: string;
  let recipe: TemplateRecipe;
  let image: string;
  const sh = shellOf(() => engine, 30_000);

  before(async () => {
    engine = await env.open();
    await engine.ensureTemplate({ id: 'base' });
    holder = new NodeSandboxes(engine, SandboxLedger.open(undefined), 8);
    holder.transfer = new TemplateTransfer(engine, join(env.stateDir, 'xfer-holder'), KEY);
    fetcher = new NodeSandboxes(engine, SandboxLedger.open(undefined), 8);
    fetcher.transfer = new TemplateTransfer(engine, join(env.stateDir, 'xfer-fetcher'), KEY);
    control = await listenApi({ host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }) }, () =>
      createControlApi({ sandboxes: holder, nodeName: 'holder', nodeKey: KEY, logger: pino({ level: 'silent' }) }),
    );
    endpoint = `127.0.0.1:${control.port}`;
    const source = templateSource({
      apiVersion: API_VERSION,
      kind: 'SandboxTemplate',
      metadata: { name: 'dist', namespace: 'default' },
      spec: {
        image: 'base',
        buildSteps: [{ type: 'run', run: "head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n' > /built-id" }],
        env: [{ name: 'MODE', value: 'distributed' }],
      },
    });
    assert.ok(source.spec);
    image = source.key;
    recipe = { spec: source.spec };
    holder.prepareTemplate(image, recipe);
    await until(() => holder.prepareTemplate(image) !== 'building', 600_000, 'the build on the holder');
    assert.equal(holder.prepareTemplate(image), 'ready');
  });
  after(async () => {
    await control?.close();
    holder?.transfer?.close();
    fetcher?.transfer?.close();
    await env.cleanup();
  });

  const exportDigest = () => exportedDigest(endpoint, image, KEY);

  /** Prepares `as` on the fetching node from `from`; resolves with its final state. */
  const fetchAs = async (as: string, from: string, digest: string) => {
    fetcher.prepareTemplate(as, { ...recipe, fetch: { endpoint: from, digest } });
    await until(() => fetcher.prepareTemplate(as) !== 'building', 600_000, `the fetch of ${as}`);
    return fetcher.prepareTemplate(as);
  };

  const builtId = async (as: string, claim: string): Promise<string> => {
    const { sandboxId } = await fetcher.acquire({
      namespace: 'default',
      pool: 'dist',
      claim,
      image: as,
      token: 'c'.repeat(64),
    });
    const r = await sh(sandboxId, 'cat /built-id; echo; echo $MODE');
    await fetcher.terminate(sandboxId);
    return r.out;
  };

  test('the fetched template is the holder’s build (same random bytes), made without running a step', async (t) => {
    // Blobs and export are behind the node key.
    const open = await fetch(`http://${endpoint}/node/v1/templates/${image}/export`, { method: 'POST' });
    assert.equal(open.status, 401);
    let started = performance.now();
    const digest = await exportDigest();
    // What moving a whole tree between nodes costs (the note's cross-node fork figure); not asserted.
    const blobs = join(env.stateDir, 'xfer-holder', 'exports', image, 'blobs', 'sha256');
    const bytes = readdirSync(blobs).reduce((n, f) => n + statSync(join(blobs, f)).size, 0);
    t.diagnostic(`export of ${image}: ${Math.round(performance.now() - started)} ms, ${bytes} bytes of blobs`);
    assert.equal((await fetch(`http://${endpoint}/node/v1/template-blobs/${digest}`)).status, 401);

    const { sandboxId } = await holder.acquire({
      namespace: 'default',
      pool: 'dist',
      claim: 'a',
      image,
      token: 'a'.repeat(64),
    });
    const onHolder = (await sh(sandboxId, 'cat /built-id; echo; echo $MODE')).out;
    await holder.terminate(sandboxId);
    assert.match(onHolder, /^[0-9a-f]{32}\ndistributed\n$/);

    const as = 'spec-fetched0000000001';
    started = performance.now();
    assert.equal(await fetchAs(as, endpoint, digest), 'ready');
    t.diagnostic(`fetch + import of ${as}: ${Math.round(performance.now() - started)} ms`);
    // A rebuild would have written other random bytes: these are the holder's.
    assert.equal(await builtId(as, 'b'), onHolder);
    assert.equal(engine.getTemplate(templateIdFor(as))?.ready, true);
    assert.deepEqual(fetcher.capacity().fetched, [as]);
    assert.equal(holder.capacity().fetched, undefined);
  });

  test('a tampered blob is refetched; a holder that keeps tampering is refused and nothing is imported', async () => {
    const digest = await exportDigest();
    // A hostile holder in front of the real one: it flips one byte of every blob it serves,
    // for the first `tamper` requests.
    let tamper = 1;
    const proxy: Server = createServer(async (req, res) => {
      const upstream = await fetch(`http://${endpoint}${req.url}`, {
        headers: { authorization: req.headers.authorization ?? '' },
      });
      const body = Buffer.from(await upstream.arrayBuffer());
      if (tamper > 0 && body.length > 0) {
        tamper--;
        body[body.length - 1] = (body[body.length - 1] ?? 0) ^ 0xff;
      }
      res.writeHead(upstream.status, { 'content-type': 'application/octet-stream' }).end(body);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const hostile = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      assert.equal(await fetchAs('spec-refetched000000001', hostile, digest), 'ready');
      assert.equal(tamper, 0);

      tamper = Number.POSITIVE_INFINITY;
      assert.equal(await fetchAs('spec-tampered0000000001', hostile, digest), 'failed');
      assert.equal(engine.getTemplate(templateIdFor('spec-tampered0000000001')), undefined);
      const scratch = join(env.stateDir, 'xfer-fetcher', 'fetch');
      assert.deepEqual(existsSync(scratch) ? readdirSync(scratch) : [], []);
      const report = fetcher.templateReport('spec-tampered0000000001');
      assert.equal(report.state, 'failed');
      assert.deepEqual(
        report.failures.map((f) => f.via),
        [hostile],
      );
      // The failed holder is not asked again at once...
      const failing = { ...recipe, fetch: { endpoint: hostile, digest } };
      assert.equal(fetcher.prepareTemplate('spec-tampered0000000001', failing), 'failed');
      await assert.rejects(
        fetcher.acquire({
          namespace: 'default',
          pool: 'dist',
          claim: 'x',
          image: 'spec-tampered0000000001',
          token: 'd'.repeat(64),
        }),
        (err: Error & { detail?: string }) =>
          /has digest sha256:[0-9a-f]{64} \(3 attempts\); refused/.test(err.detail ?? ''),
      );
      // ...but another holder is, at once (the controller's fallback), and serves it intact.
      assert.equal(await fetchAs('spec-tampered0000000001', endpoint, digest), 'ready');
      assert.ok(fetcher.capacity().fetched?.includes('spec-tampered0000000001'));
      assert.deepEqual(fetcher.templateReport('spec-tampered0000000001').failures, []);
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });

  test('a digest that names no manifest, a wrong key and a digest that is not one are refused', async () => {
    const digest = await exportDigest();
    const manifest = (await (
      await fetch(`http://${endpoint}/node/v1/template-blobs/${digest}`, {
        headers: { authorization: `Bearer ${KEY}` },
      })
    ).json()) as { config: { digest: string } };
    // The config blob is intact and served, but it is not an image manifest.
    assert.equal(await fetchAs('spec-notamanifest000001', endpoint, manifest.config.digest), 'failed');
    await assert.rejects(
      fetcher.acquire({
        namespace: 'default',
        pool: 'dist',
        claim: 'y',
        image: 'spec-notamanifest000001',
        token: 'e'.repeat(64),
      }),
      (err: Error & { detail?: string }) => /is not an image manifest/.test(err.detail ?? ''),
    );
    assert.equal(engine.getTemplate(templateIdFor('spec-notamanifest000001')), undefined);
    const wrongKey = await fetch(`http://${endpoint}/node/v1/template-blobs/${digest}`, {
      headers: { authorization: `Bearer ${'w'.repeat(32)}` },
    });
    assert.equal(wrongKey.status, 401);
    for (const bad of ['sha256:..%2F..%2Fetc%2Fpasswd', 'sha512:abc', `sha256:${'0'.repeat(64)}`]) {
      const res = await fetch(`http://${endpoint}/node/v1/template-blobs/${bad}`, {
        headers: { authorization: `Bearer ${KEY}` },
      });
      assert.equal(res.status, 404, bad);
    }
  });

  test('export GC: the export of a template the holder no longer has is removed and its blobs no longer served', async () => {
    const digest = await exportDigest();
    const exported = join(env.stateDir, 'xfer-holder', 'exports', image);
    assert.ok(existsSync(exported));
    assert.ok(await engine.templateBuilds?.delete(templateIdFor(image)));
    assert.deepEqual(holder.transfer?.gc(), [image]);
    assert.equal(existsSync(exported), false);
    const res = await fetch(`http://${endpoint}/node/v1/template-blobs/${digest}`, {
      headers: { authorization: `Bearer ${KEY}` },
    });
    assert.equal(res.status, 404);
  });
});
