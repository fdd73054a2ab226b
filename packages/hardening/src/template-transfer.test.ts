/**
 * The node-to-node template transfer (a cluster node's control API: export, blobs, fetch) under
 * attack: from inside a sandbox on the node (the control port must be out of reach), from a
 * local host user without the node key, and from a hostile holder that serves blobs whose
 * digest does not match, more bytes than it declared, or a manifest that would fill the disk.
 * Nothing a holder sends is trusted but by its digest; a refused fetch imports nothing and
 * leaves no scratch behind. A built-in image's tree (fetched into a node's image cache) is also
 * checked for what it may hold: no device nodes, no owner outside the holder's uid range.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createControlApi, NodeSandboxes, SandboxLedger, TemplateTransfer } from '@mitos/controller';
import type { LinuxEngine } from '@mitos/engine';
import { listenApi, type RunningServer } from '@mitos/server';
import { shellOf, testEngineEnv, until } from '@mitos/testkit';
import pino from 'pino';
import { Recorder } from './figures.js';
import { nodeAsLocalUser } from './local-user.js';

const rec = new Recorder('template-transfer', 'Template transfer between cluster nodes', 11);
const KEY = `mitos-test-nodekey-${randomBytes(12).toString('hex')}`;
const SB = `tt-${process.pid}`;

// As the unprivileged `nobody`: each request without a key, then with a guessed one; prints statuses.
const NOBODY_CALLS = `const [base, digest] = process.argv.slice(1);
const calls = [['GET', '/node/v1/template-blobs/' + digest], ['POST', '/node/v1/templates/base/export'],
  ['GET', '/node/v1/templates/base'], ['POST', '/node/v1/templates']];
(async () => { const out = [];
  for (const auth of [undefined, 'Bearer ' + 'g'.repeat(40)]) for (const [method, path] of calls) {
    const res = await fetch(base + path, { method, headers: auth ? { authorization: auth, 'content-type': 'application/json' } : { 'content-type': 'application/json' },
      body: method === 'POST' ? JSON.stringify({ image: 'spec-x', spec: { image: 'base' }, fetch: { endpoint: '127.0.0.1:1', digest } }) : undefined });
    out.push(res.status); }
  console.log(out.join(' ')); })();`;

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A hostile holder: serves a manifest and blobs as told, counting what was asked for. */
async function hostileHolder(
  blobs: Map<string, () => Buffer>,
): Promise<{ server: Server; endpoint: string; asked: Map<string, number> }> {
  const asked = new Map<string, number>();
  const server = createServer((req, res) => {
    const digest = (req.url ?? '').split('/').at(-1) ?? '';
    asked.set(digest, (asked.get(digest) ?? 0) + 1);
    const body = blobs.get(digest)?.();
    if (!body) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, endpoint: `127.0.0.1:${(server.address() as AddressInfo).port}`, asked };
}

describe('hardening: template transfer between cluster nodes', { timeout: 600_000 }, () => {
  const env = testEngineEnv();
  // A node that joined with an empty image cache (and no Debian mirror): it can only fetch built-ins.
  const bareEnv = testEngineEnv();
  let bare: NodeSandboxes;
  let engine: LinuxEngine;
  let node: NodeSandboxes;
  let control: RunningServer;
  const sh = shellOf(() => engine, 30_000);
  const holders: Server[] = [];

  before(async () => {
    engine = await env.open();
    await engine.ensureTemplate({ id: 'python' });
    node = new NodeSandboxes(engine, SandboxLedger.open(undefined), 4);
    node.transfer = new TemplateTransfer(engine, join(env.stateDir, 'transfer'), KEY);
    // As the node daemon listens by default: every address of the host.
    control = await listenApi({ host: '0.0.0.0', port: 0, logger: pino({ level: 'silent' }) }, () =>
      createControlApi({ sandboxes: node, nodeName: 'n1', nodeKey: KEY, logger: pino({ level: 'silent' }) }),
    );
    await engine.create({ id: SB, templateId: 'python', network: { egress: 'allow', inbound: 'allow' } });
    const bareEngine = await bareEnv.open({
      cacheDir: join(bareEnv.stateDir, 'cache'),
      mirror: 'http://mirror.invalid/debian',
    });
    bare = new NodeSandboxes(bareEngine, SandboxLedger.open(undefined), 4);
    bare.transfer = new TemplateTransfer(bareEngine, join(bareEnv.stateDir, 'transfer'), KEY);
  });
  after(async () => {
    for (const s of holders) await new Promise((r) => s.close(r));
    await control?.close();
    node?.transfer?.close();
    bare?.transfer?.close();
    await bareEnv.cleanup();
    await env.cleanup();
    rec.save();
  });

  test('from inside a sandbox (egress allowed), the node’s control port is unreachable on every host address', async () => {
    const slot = engine.network.slots.get(SB)?.slot;
    assert.ok(slot !== undefined && slot !== null, 'the sandbox has a link');
    const n = (10 << 24) + engine.network.identity.v4Block * 1024 + 2 * slot;
    const gateway = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
    const hostAddresses = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a && a.family === 'IPv4' && !a.internal)
      .map((a) => a?.address as string);
    const targets = [...new Set([gateway, ...hostAddresses])];
    assert.ok(targets.length >= 2, `a gateway and a host address (${targets.join(', ')})`);
    const probe = async (host: string, port: number) =>
      (
        await sh(
          SB,
          `python3 -c 'import socket,sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3); print("OK")
except Exception: print("ERR")' ${host} ${port}`,
        )
      ).out.trim();
    // The probe itself works: a port the sandbox may reach (its own loopback) answers OK.
    await sh(SB, 'nohup python3 -m http.server 8080 --bind 127.0.0.1 >/dev/null 2>&1 &');
    await until(async () => (await probe('127.0.0.1', 8080)) === 'OK', 60_000, 'the sandbox’s own server');
    for (const host of targets) {
      assert.equal(await probe(host, control.port), 'ERR', `the sandbox reached the control port at ${host}`);
    }
    rec.check(`sandbox connects to the control port (${targets.length} host addresses)`, 'no connection on any');
    rec.count('attacks', targets.length);
  });

  test('a local host user without the node key gets 401 on export, blobs, report and fetch', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const stdout = await nodeAsLocalUser(NOBODY_CALLS, [`http://127.0.0.1:${control.port}`, digest]);
    assert.equal(stdout.trim(), Array(8).fill('401').join(' '));
    rec.check('local user calls export, blob, report and fetch without a key, then with a guessed one', '401 on all 8');
    rec.count('attacks', 8);
    rec.count('requests_fuzzed', 8);
  });

  /** Asks the node to fetch `image` from `endpoint`; resolves with its report once it settles. */
  const fetchFrom = async (image: string, endpoint: string, digest: string) => {
    node.prepareTemplate(image, { spec: { image: 'base' }, fetch: { endpoint, digest } });
    await until(() => node.templateReport(image).state !== 'building', 60_000, `the fetch of ${image}`);
    return node.templateReport(image);
  };
  const assertNothingImported = (image: string) => {
    assert.equal(engine.getTemplate(image), undefined, `${image} was imported`);
    const scratch = join(env.stateDir, 'transfer', 'fetch');
    assert.deepEqual(existsSync(scratch) ? readdirSync(scratch) : [], [], 'scratch left behind');
  };

  test('a holder serving a blob whose digest does not match is refused after 3 attempts; nothing is imported', async () => {
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const layer = randomBytes(4096);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        config: { digest: sha(config), size: config.length },
        layers: [{ digest: sha(layer), size: layer.length }],
      }),
    );
    const forged = Buffer.from(layer);
    forged[0] = (forged[0] ?? 0) ^ 0xff;
    const holder = await hostileHolder(
      new Map([
        [sha(manifest), () => manifest],
        [sha(config), () => config],
        [sha(layer), () => forged],
      ]),
    );
    holders.push(holder.server);
    const report = await fetchFrom('spec-forged00000000001', holder.endpoint, sha(manifest));
    assert.equal(report.state, 'failed');
    assert.equal(holder.asked.get(sha(layer)), 3);
    assert.match(report.failures[0]?.error ?? '', /has digest sha256:[0-9a-f]{64} \(3 attempts\); refused/);
    assert.equal(report.failures[0]?.via, holder.endpoint);
    assertNothingImported('spec-forged00000000001');
    // The same holder is not asked again at once; another way would be.
    assert.equal(
      node.prepareTemplate('spec-forged00000000001', {
        spec: { image: 'base' },
        fetch: { endpoint: holder.endpoint, digest: sha(manifest) },
      }),
      'failed',
    );
    assert.equal(holder.asked.get(sha(layer)), 3);
    rec.check(
      'holder serves a layer whose bytes do not match its digest',
      'refused after 3 attempts; nothing imported',
    );
    rec.count('attacks', 1);
  });

  test('a holder serving more bytes than declared, or a manifest that would fill the disk, is refused', async () => {
    const config = Buffer.from('{}');
    const layer = randomBytes(1024);
    const manifest = Buffer.from(
      JSON.stringify({
        config: { digest: sha(config), size: config.length },
        layers: [{ digest: sha(layer), size: 16 }],
      }),
    );
    // 200 layers of 64 GiB each: more than any disk, within the per-blob bound.
    const giant = Buffer.from(
      JSON.stringify({
        config: { digest: sha(config), size: config.length },
        layers: Array.from({ length: 200 }, () => ({ digest: sha(layer), size: 64 * 1024 ** 3 })),
      }),
    );
    const holder = await hostileHolder(
      new Map([
        [sha(manifest), () => manifest],
        [sha(giant), () => giant],
        [sha(config), () => config],
        [sha(layer), () => layer],
      ]),
    );
    holders.push(holder.server);
    const longer = await fetchFrom('spec-longer00000000001', holder.endpoint, sha(manifest));
    assert.equal(longer.state, 'failed');
    assert.match(longer.failures[0]?.error ?? '', /is larger than 16 bytes/);
    assertNothingImported('spec-longer00000000001');

    const before = holder.asked.get(sha(layer)) ?? 0;
    const filling = await fetchFrom('spec-filling0000000001', holder.endpoint, sha(giant));
    assert.equal(filling.state, 'failed');
    assert.match(filling.failures[0]?.error ?? '', /declare \d+ bytes and this node has \d+ bytes free/);
    assert.equal(holder.asked.get(sha(layer)) ?? 0, before, 'no layer was downloaded');
    assertNothingImported('spec-filling0000000001');
    rec.check('holder streams more bytes than the manifest declared', 'refused mid-stream; nothing imported');
    rec.check('manifest declares 12.5 TiB of layers', 'refused before any layer is fetched');
    rec.count('attacks', 2);
  });

  test('a holder sending a built-in tree with a host-root setuid file or a device node: refused, nothing cached', async () => {
    // The holder's real build metadata of python (so the recipe check passes): only the tree is forged.
    const meta = engine.builtImages?.metadata('python');
    assert.ok(meta);
    const config = Buffer.from(JSON.stringify(meta));
    const tarOf = (name: string, make: (root: string) => void) => {
      const root = join(env.stateDir, `forged-${name}`);
      mkdirSync(root, { recursive: true });
      make(root);
      execFileSync('chown', [`${meta.uidBase}:${meta.uidBase}`, root]);
      const file = `${root}.tar`;
      execFileSync('tar', ['--create', `--file=${file}`, '--numeric-owner', `--directory=${root}`, '.']);
      return readFileSync(file);
    };
    const setuidRoot = tarOf('setuid', (root) => {
      writeFileSync(join(root, 'sh'), '#!/bin/sh\n');
      chmodSync(join(root, 'sh'), 0o4755); // owned by host root: outside the holder's uid range
    });
    const device = tarOf('device', (root) => {
      execFileSync('mknod', [join(root, 'null'), 'c', '1', '3']);
      execFileSync('chown', [`${meta.uidBase}:${meta.uidBase}`, join(root, 'null')]);
    });
    const manifestOf = (layer: Buffer) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          config: {
            mediaType: 'application/vnd.mitos.built-image.config.v1+json',
            digest: sha(config),
            size: config.length,
          },
          layers: [{ digest: sha(layer), size: layer.length }],
        }),
      );
    const cache = join(bareEnv.stateDir, 'cache', 'images');
    // Each forged tree from a holder of its own (a way that failed is not tried again at once).
    for (const [layer, refusal] of [
      [setuidRoot, /outside \d+\.\./],
      [device, /device, fifo or socket/],
    ] as const) {
      const manifest = manifestOf(layer);
      const holder = await hostileHolder(
        new Map([
          [sha(manifest), () => manifest],
          [sha(config), () => config],
          [sha(layer), () => layer],
        ]),
      );
      holders.push(holder.server);
      bare.prepareTemplate('python', { fetch: { endpoint: holder.endpoint, digest: sha(manifest) } });
      await until(() => bare.templateReport('python').state !== 'building', 60_000, 'the forged fetch');
      const report = bare.templateReport('python');
      assert.equal(report.state, 'failed');
      assert.match(report.failures.at(-1)?.error ?? '', refusal);
      assert.deepEqual(existsSync(cache) ? readdirSync(cache) : [], [], 'nothing in the image cache');
      assert.equal(report.cached, undefined);
    }
    rec.check('holder sends a built-in tree holding a setuid file owned by host root', 'refused; nothing cached');
    rec.check('holder sends a built-in tree holding a device node', 'refused; nothing cached');
    rec.count('attacks', 2);
  });
});
