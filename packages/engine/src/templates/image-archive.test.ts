import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { MitosError } from '@mitos/protocol';
import { type BuildMetadata, builtRootfs, readBuildMetadata } from './builder.js';
import { ImageCache } from './image-archive.js';
import { IMAGES, imageKey } from './images.js';

// A small fake tree stands for a built image (a real one is 100s of MB; the node test moves a
// real `base` between two engines). What is checked here is the archive's fidelity across two
// uid ranges and what an install refuses from a hostile holder.
describe('built image archive between build caches', { skip: process.getuid?.() !== 0 && 'needs root' }, () => {
  const dir = mkdtempSync('/tmp/mitos-test-imgarc-');
  after(() => rmSync(dir, { recursive: true, force: true }));
  const HOLDER_BASE = 100_000;
  const OWN_BASE = 300_000;
  const holder = new ImageCache(join(dir, 'holder'), HOLDER_BASE);
  const key = imageKey(IMAGES.base, HOLDER_BASE);
  const ownKey = imageKey(IMAGES.base, OWN_BASE);
  const meta: BuildMetadata = {
    key,
    image: 'base',
    suite: 'bookworm',
    variant: 'minbase',
    packages: [],
    uidBase: HOLDER_BASE,
    builderVersion: 2,
    mirror: 'http://deb.debian.org/debian',
    builtAt: '2026-01-01T00:00:00.000Z',
    bootstrapMs: 1,
    shiftMs: 1,
    totalMs: 1,
    entries: 0,
    bytes: 0,
  };

  /** A tree as the builder leaves it: owned inside HOLDER_BASE's range. */
  const holderTree = () => {
    const root = builtRootfs(holder.cacheDir, key);
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    mkdirSync(join(root, 'home/user'), { recursive: true });
    writeFileSync(join(root, 'usr/bin/su'), 'setuid');
    writeFileSync(join(root, 'usr/bin/a'), 'hard');
    linkSync(join(root, 'usr/bin/a'), join(root, 'usr/bin/b'));
    writeFileSync(join(root, 'home/user/.profile'), 'x');
    symlinkSync('/usr/bin/a', join(root, 'usr/bin/link'));
    execFileSync('chown', ['-hR', `${HOLDER_BASE}:${HOLDER_BASE}`, root]);
    chownSync(join(root, 'home/user'), HOLDER_BASE + 1000, HOLDER_BASE + 1000);
    chownSync(join(root, 'home/user/.profile'), HOLDER_BASE + 1000, HOLDER_BASE + 1000);
    chmodSync(join(root, 'usr/bin/su'), 0o4755);
    writeFileSync(join(holder.cacheDir, 'images', key, '.complete'), JSON.stringify(meta));
    return root;
  };

  const nothingHalfMade = (cache: ImageCache) => {
    const images = join(cache.cacheDir, 'images');
    const left = existsSync(images) ? readdirSync(images) : [];
    assert.deepEqual(left, [], `nothing left in the cache: ${left.join(', ')}`);
  };

  test('a tree archived on one host is installed on another, shifted into its uid range, exactly', async () => {
    holderTree();
    assert.equal(holder.has('base'), true);
    const tar = join(dir, 'base.tar');
    const sent = await holder.archive('base', tar);
    assert.equal(sent.key, key);

    const own = new ImageCache(join(dir, 'own'), OWN_BASE);
    assert.equal(own.has('base'), false);
    await own.install('base', tar, sent, 'node-a:7000');
    assert.equal(own.has('base'), true);
    const got = readBuildMetadata(own.cacheDir, ownKey);
    assert.equal(got?.key, ownKey);
    assert.equal(got?.uidBase, OWN_BASE);
    assert.equal(got?.transferredFrom, 'node-a:7000');
    assert.equal(got?.builtAt, meta.builtAt, 'the holder’s build, not a new one');
    const root = builtRootfs(own.cacheDir, ownKey);
    const owner = (p: string) => {
      const st = lstatSync(join(root, p));
      return [st.uid, st.gid];
    };
    assert.deepEqual(owner('.'), [OWN_BASE, OWN_BASE]);
    assert.deepEqual(owner('home/user/.profile'), [OWN_BASE + 1000, OWN_BASE + 1000]);
    assert.deepEqual(owner('usr/bin/link'), [OWN_BASE, OWN_BASE]);
    assert.equal(lstatSync(join(root, 'usr/bin/su')).mode & 0o7777, 0o4755, 'setuid kept through chown');
    assert.equal(lstatSync(join(root, 'usr/bin/a')).ino, lstatSync(join(root, 'usr/bin/b')).ino, 'hard link kept');
    assert.equal(readFileSync(join(root, 'usr/bin/a'), 'utf8'), 'hard');
    // Installing again (another fetch raced this one) keeps the first.
    await own.install('base', tar, sent, 'node-b:7000');
    assert.equal(readBuildMetadata(own.cacheDir, ownKey)?.transferredFrom, 'node-a:7000');
  });

  test('a hostile holder: another recipe, a device node, a file outside its uid range, a path escape', async () => {
    const refused = async (name: string, tar: string, from: BuildMetadata, pattern: RegExp) => {
      const cache = new ImageCache(join(dir, name), OWN_BASE);
      await assert.rejects(
        cache.install('base', tar, from, 'evil:1'),
        (err: unknown) => err instanceof MitosError && err.code === 'template_build_failed' && pattern.test(err.detail),
      );
      assert.equal(cache.has('base'), false);
      nothingHalfMade(cache);
    };
    const tar = join(dir, 'base.tar');
    await refused('other-recipe', tar, { ...meta, key: 'f'.repeat(64) }, /not this host's recipe/);

    const evil = (name: string, make: (root: string) => void) => {
      const root = join(dir, `${name}-src`);
      mkdirSync(root, { recursive: true });
      make(root);
      const file = join(dir, `${name}.tar`);
      execFileSync('tar', ['--create', `--file=${file}`, '--numeric-owner', `--directory=${root}`, '.']);
      return file;
    };
    const fifo = evil('fifo', (root) => {
      execFileSync('mkfifo', [join(root, 'door')]);
      execFileSync('chown', ['-hR', `${HOLDER_BASE}:${HOLDER_BASE}`, root]);
    });
    await refused('fifo', fifo, meta, /device, fifo or socket/);
    const hostRoot = evil('host-root', (root) => {
      writeFileSync(join(root, 'sh'), 'x');
      chmodSync(join(root, 'sh'), 0o4755);
      execFileSync('chown', [`${HOLDER_BASE}:${HOLDER_BASE}`, root]);
      // Owned by host root: shifted as is it would be a setuid-root file on the host.
    });
    await refused('host-root', hostRoot, meta, /outside 100000\.\./);

    // A member naming a path above the tree (as a hostile tar can): never written there.
    const escapeTar = join(dir, 'escape.tar');
    mkdirSync(join(dir, 'esc/a/b/c'), { recursive: true });
    writeFileSync(join(dir, 'esc/outside'), 'x');
    const from = join(dir, 'esc/a/b/c');
    execFileSync('tar', [
      '--create',
      `--file=${escapeTar}`,
      '--absolute-names',
      `--directory=${from}`,
      '../../../outside',
    ]);
    await refused('escape', escapeTar, meta, /./);
    assert.equal(existsSync(join(dir, 'escape', 'outside')), false, 'nothing written outside the tree');
  });
});
