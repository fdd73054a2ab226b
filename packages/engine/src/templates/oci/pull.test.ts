import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, lstatSync, mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { shellOf, startTestRegistry, TestImages, type TestRegistry, testEngineEnv } from '@mitos/testkit';
import type { LinuxEngine } from '../../drivers/linux/engine.js';
import type { TemplateBuildService } from '../../engine.js';

describe('OCI images from a v2 registry with auth (skopeo + umoci)', { timeout: 600_000 }, () => {
  const env = testEngineEnv();
  let engine: LinuxEngine;
  let builds: TemplateBuildService;
  let registry: TestRegistry;
  const sh = shellOf(() => engine, 20_000);
  const savedAuth = process.env.MITOS_REGISTRY_AUTH;
  const read = (path: string) => `if [ -e ${path} ]; then read -r l < ${path}; echo "$l"; else echo absent; fi`;

  async function runIn(image: string, command: string): Promise<string> {
    const id = `t-${Math.random().toString(36).slice(2, 8)}`;
    await builds.build({ id, spec: { image } });
    await engine.create({ id: `${id}-1`, templateId: id });
    try {
      return (await sh(`${id}-1`, command)).out;
    } finally {
      await engine.terminate(`${id}-1`);
    }
  }

  before(async () => {
    engine = await env.open();
    builds = engine.templateBuilds as TemplateBuildService;
    registry = await startTestRegistry(join(env.stateDir, 'registry'));
    process.env.MITOS_REGISTRY_AUTH = registry.authFile(true);
    const images = new TestImages(join(env.stateDir, 'images-src'));
    await images.init();
    await images.create(
      'v1',
      { 'etc/marker': 'amd64 v1', 'etc/doomed': 'to be deleted' },
      {
        env: ['GREETING=from-image'],
        workdir: '/etc',
      },
    );
    // A second layer that deletes a file: umoci writes it as a whiteout.
    await images.change('v1', 'v2', (rootfs) => unlinkSync(join(rootfs, 'etc/doomed')));
    await images.create('arm', { 'etc/marker': 'arm64 variant' });
    images.index('multi', [
      { tag: 'arm', architecture: 'arm64' },
      { tag: 'v1', architecture: 'amd64' },
    ]);
    await registry.push(images.layout, 'v1', 'team/app:v1');
    await registry.push(images.layout, 'v2', 'team/app:v2');
    await registry.push(images.layout, 'multi', 'team/multi:1', true);
    // Two images on one base: a 2 MiB file (data extents, not inline), a file of uid 1000,
    // and a file the first child deletes (a whiteout).
    await images.create('base', { 'etc/marker': 'shared base', 'etc/base-only': 'x' });
    await images.change('base', 'base', (rootfs) => {
      mkdirSync(join(rootfs, 'data'));
      writeFileSync(join(rootfs, 'data/big.bin'), randomBytes(2 << 20));
      writeFileSync(join(rootfs, 'data/owned'), 'mine');
      chownSync(join(rootfs, 'data/owned'), 1000, 1000);
    });
    await images.change('base', 'child-a', (rootfs) => {
      writeFileSync(join(rootfs, 'etc/child'), 'a');
      unlinkSync(join(rootfs, 'etc/base-only'));
    });
    await images.change('base', 'child-b', (rootfs) => writeFileSync(join(rootfs, 'etc/child'), 'b'));
    await registry.push(images.layout, 'child-a', 'team/child:a');
    await registry.push(images.layout, 'child-b', 'team/child:b');
  });
  after(async () => {
    process.env.MITOS_REGISTRY_AUTH = savedAuth;
    if (savedAuth === undefined) delete process.env.MITOS_REGISTRY_AUTH;
    await registry?.stop();
    await env.cleanup();
  });

  test('pull by tag: the image config (env, workdir) reaches the sandbox', async () => {
    const out = await runIn(`${registry.host}/team/app:v1`, `${read('/etc/marker')}; echo $GREETING; pwd`);
    assert.equal(out, 'amd64 v1\nfrom-image\n/etc\n');
  });

  test('a second pull of a tag unpacks nothing; pull by digest gives the same image', async () => {
    const events: { type: string; digest?: string; cached?: boolean }[] = [];
    await builds.build({
      id: 'by-tag',
      spec: { image: `${registry.host}/team/app:v1` },
      onEvent: (e) => events.push(e),
    });
    const base = events.find((e) => e.type === 'base');
    assert.match(String(base?.digest), /^sha256:[0-9a-f]{64}$/);
    assert.equal(base?.cached, true, 'the second pull of v1 unpacks nothing');
    const byDigest = await runIn(`${registry.host}/team/app@${base?.digest}`, read('/etc/marker'));
    assert.equal(byDigest, 'amd64 v1\n');
  });

  test('a whiteout layer deletes the file; the index resolves to linux/amd64', async () => {
    assert.equal(
      await runIn(`${registry.host}/team/app:v2`, `${read('/etc/doomed')}; ${read('/etc/marker')}`),
      'absent\namd64 v1\n',
    );
    assert.equal(await runIn(`${registry.host}/team/multi:1`, read('/etc/marker')), 'amd64 v1\n');
  });

  test('push exports a template that fromImage pulls back to the same tree', async () => {
    await builds.build({
      id: 'to-push',
      spec: {
        image: `${registry.host}/team/app:v1`,
        buildSteps: [{ type: 'run', run: 'echo pushed > /etc/pushed' }],
        command: ['/bin/sh', '-c', 'read -r l < /etc/pushed'],
      },
    });
    const ref = `${registry.host}/team/pushed:1`;
    assert.deepEqual(await builds.push('to-push', ref), { reference: ref });
    await builds.build({ id: 'pulled-back', spec: { image: ref } });
    const [a, b] = ['to-push', 'pulled-back'].map((id) => {
      const key = (engine as unknown as { store: { template(id: string): { imageKey: string } } }).store.template(
        id,
      ).imageKey;
      return engine.storage.imagePath?.(key) as string;
    });
    const diff = spawnSync('diff', ['-r', '--no-dereference', a as string, b as string], { encoding: 'utf8' });
    assert.equal(diff.status, 0, diff.stdout + diff.stderr);
    const owners = (p: string) =>
      spawnSync('find', [p, '-printf', '%P %U:%G %m\n'], { encoding: 'utf8' }).stdout.split('\n').sort().join('\n');
    assert.equal(owners(b as string), owners(a as string));
    await engine.create({ id: 'pulled-1', templateId: 'pulled-back' });
    try {
      assert.equal(
        (await sh('pulled-1', `${read('/etc/pushed')}; echo $GREETING; pwd`)).out,
        'pushed\nfrom-image\n/etc\n',
      );
    } finally {
      await engine.terminate('pulled-1');
    }
  });

  const imageOf = (id: string) =>
    (engine as unknown as { store: { template(id: string): { imageKey: string } } }).store.template(id).imageKey;
  const chains = () => new Set((engine.storage.listImages?.() ?? []).filter((k) => k.startsWith('chain-')));
  const minus = (a: Set<string>, b: Set<string>) => [...a].filter((k) => !b.has(k)).sort();
  /** Physical byte offset of a file's first extent on the btrfs volume (FIEMAP, via filefrag). */
  function firstExtent(path: string): number {
    const out = spawnSync('filefrag', ['-v', '-b1', path], { encoding: 'utf8' });
    const row = /^\s*0:\s+\d+\.\.\s*\d+:\s+(\d+)\.\./m.exec(out.stdout);
    assert.ok(row, `no extent for ${path}: ${out.stdout}${out.stderr}`);
    return Number(row[1]);
  }

  test('two images on one base share its unpacked layers on disk; prune collects unreferenced chains', async () => {
    const before = chains();
    await builds.build({ id: 'share-a', spec: { image: `${registry.host}/team/child:a` } });
    const afterA = chains();
    const madeByA = minus(afterA, before);
    assert.equal(madeByA.length, 3, 'child a: its two base layers and its own layer, one chain each');
    await builds.build({ id: 'share-b', spec: { image: `${registry.host}/team/child:b` } });
    const madeByB = minus(chains(), afterA);
    assert.equal(madeByB.length, 1, 'child b reuses the base chains and unpacks only its own layer');

    const [a, b] = ['share-a', 'share-b'].map((id) => engine.storage.imagePath?.(imageOf(id)) as string);
    const extentA = firstExtent(join(a as string, 'data/big.bin'));
    assert.ok(extentA > 0);
    assert.equal(firstExtent(join(b as string, 'data/big.bin')), extentA, 'the base file is one extent on disk');

    // Ownership shifted layer by layer: the sandbox's root and uid 1000 keep their offset.
    const root = lstatSync(a as string).uid;
    assert.ok(root > 0, 'the tree is in the sandbox uid range');
    assert.equal(lstatSync(join(a as string, 'data/owned')).uid, root + 1000);
    assert.equal(lstatSync(join(a as string, 'data/big.bin')).uid, root);
    await engine.create({ id: 'share-a-1', templateId: 'share-a' });
    await engine.create({ id: 'share-b-1', templateId: 'share-b' });
    try {
      const probe = `${read('/etc/child')}; ${read('/etc/base-only')}; ${read('/data/owned')}`;
      assert.equal((await sh('share-a-1', probe)).out, 'a\nabsent\nmine\n');
      assert.equal((await sh('share-b-1', probe)).out, 'b\nx\nmine\n');
    } finally {
      await engine.terminate('share-a-1');
      await engine.terminate('share-b-1');
    }

    await builds.delete('share-b');
    await builds.prune();
    const afterPruneB = chains();
    assert.deepEqual(minus(new Set(madeByB), afterPruneB), madeByB, "b's own chain goes with b");
    assert.deepEqual(minus(new Set(madeByA), afterPruneB), [], "a's chains stay while a refers to them");
    // A template built on a's image with a step of its own keeps that image, and so its chains.
    await builds.build({
      id: 'share-step',
      spec: { image: `${registry.host}/team/child:a`, buildSteps: [{ type: 'run', run: 'echo s > /etc/stepped' }] },
    });
    await builds.delete('share-a');
    await builds.prune();
    assert.deepEqual(minus(new Set(madeByA), chains()), [], "a template built on a's image keeps its chains");
    await builds.delete('share-step');
    await builds.prune();
    assert.deepEqual(minus(new Set(madeByA), chains()), madeByA, 'no image refers to the base: its chains go');
  });

  test('bad credentials are registry_auth; an unknown image is image_not_found naming the reference', async () => {
    process.env.MITOS_REGISTRY_AUTH = registry.authFile(false);
    try {
      await assert.rejects(builds.build({ id: 'denied', spec: { image: `${registry.host}/team/app:v1` } }), {
        code: 'registry_auth',
      });
    } finally {
      process.env.MITOS_REGISTRY_AUTH = registry.authFile(true);
    }
    const ref = `${registry.host}/team/nope:v9`;
    await assert.rejects(
      builds.build({ id: 'missing', spec: { image: ref } }),
      (err: Error & { code?: string; detail?: string }) => {
        assert.equal(err.code, 'image_not_found');
        assert.ok(err.detail?.includes(ref), err.detail);
        return true;
      },
    );
    assert.equal(engine.getTemplate('denied'), undefined);
    rmSync(registry.authFile(false));
  });
});
