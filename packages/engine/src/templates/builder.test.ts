import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { MitosError } from '@mitos/protocol';
import { mountsUnder } from '../host/mountinfo.js';
import { type BuildImageOptions, buildImage, builtRootfs, readBuildMetadata } from './builder.js';
import { type BootstrapCommand, debootstrapCommand } from './debootstrap.js';
import { type ImageSpec, imageKey } from './images.js';

// Stands in for debootstrap: a few files with the ownership and modes a real tree has, the
// build debris post-processing must remove, and a resolv.conf symlink pointing at a host file.
const FAKE = `
set -e
t="$1"; counter="$2"; mode="$3"; sentinel="$4"
echo "I: Retrieving fake packages"
echo "$$" >> "$counter"
mkdir -p "$t/etc" "$t/usr/bin" "$t/var/cache/apt/archives/partial" "$t/var/lib/apt/lists" "$t/dev" "$t/var/mail" "$t/tmp"
echo 'ID=debian' > "$t/etc/os-release"
echo x > "$t/usr/bin/su"; chmod 4755 "$t/usr/bin/su"
echo x > "$t/usr/bin/wall"; chown 0:5 "$t/usr/bin/wall"; chmod 2755 "$t/usr/bin/wall"
echo x > "$t/usr/bin/a"; ln "$t/usr/bin/a" "$t/usr/bin/b"
echo deb > "$t/var/cache/apt/archives/python3_3.11_amd64.deb"
echo pkgs > "$t/var/lib/apt/lists/deb.debian.org_dists_bookworm_main_Packages"
mknod "$t/dev/null" c 1 3; mknod "$t/dev/sda" b 8 0
ln -s "$sentinel" "$t/etc/resolv.conf"
echo "I: Extracting fake"
sleep 0.2
if [ "$mode" = fail ]; then echo "E: Couldn't download packages: fake" >&2; exit 1; fi
echo "I: Base system installed successfully."
`;

function fake(counter: string, sentinel: string, mode: 'ok' | 'fail' = 'ok'): BootstrapCommand {
  return (target) => ['sh', '-c', FAKE, 'fake-debootstrap', target, counter, mode, sentinel];
}

function tinyImage(name: string): ImageSpec {
  // A package list no real image has, so the key cannot collide with the catalogue's.
  return {
    name,
    suite: 'bookworm',
    variant: 'minbase',
    packages: [`mitos-test-${name}`],
    limits: { memoryBytes: 64 << 20, pids: 32, cpus: 1 },
  };
}

const runs = (counter: string): number =>
  existsSync(counter) ? readFileSync(counter, 'utf8').trim().split('\n').length : 0;

describe('image builder', { skip: process.getuid?.() !== 0 && 'needs root (mknod, chown)' }, () => {
  const dir = mkdtempSync('/tmp/mitos-test-build-');
  const sentinel = join(dir, 'host-resolv.conf');
  writeFileSync(sentinel, 'nameserver 10.0.0.1\n');
  after(() => {
    assert.deepEqual(mountsUnder(dir), [], 'no mount left under the test dir');
    rmSync(dir, { recursive: true, force: true });
  });
  const options = (cacheDir: string, counter: string, extra: Partial<BuildImageOptions> = {}): BuildImageOptions => ({
    cacheDir,
    uidBase: 100_000,
    mirror: 'http://mirror.invalid/debian',
    bootstrapCommand: fake(counter, sentinel),
    ...extra,
  });

  test('builds, post-processes and shifts the tree, reporting progress', async () => {
    const cacheDir = join(dir, 'cache1');
    const counter = join(dir, 'count1');
    const lines: string[] = [];
    const image = tinyImage('one');
    const rootfs = await buildImage(image, options(cacheDir, counter, { onProgress: (l) => lines.push(l) }));
    const key = imageKey(image, 100_000);
    assert.equal(rootfs, builtRootfs(cacheDir, key));
    assert.equal(rootfs, join(cacheDir, 'images', key, 'rootfs'));
    assert.ok(lines.includes('I: Retrieving fake packages'), 'debootstrap output is streamed');
    assert.ok(lines.some((l) => /shifted \d+ inodes/.test(l)));

    const st = (p: string) => lstatSync(join(rootfs, p));
    assert.equal(st('.').uid, 100_000);
    assert.equal(st('usr/bin/su').uid, 100_000);
    assert.equal(st('usr/bin/su').mode & 0o7777, 0o4755, 'setuid survives the chown');
    assert.equal(st('usr/bin/wall').gid, 100_005);
    assert.equal(st('usr/bin/wall').mode & 0o7777, 0o2755, 'setgid survives the chown');
    assert.equal(st('usr/bin/a').uid, 100_000, 'hard link shifted exactly once');
    assert.equal(st('workspace').mode & 0o7777, 0o755);
    assert.equal(st('workspace').uid, 100_000);
    assert.deepEqual(readdirSync(join(rootfs, 'dev')), [], 'device nodes are removed');
    assert.deepEqual(readdirSync(join(rootfs, 'var/cache/apt/archives')), ['partial']);
    assert.deepEqual(readdirSync(join(rootfs, 'var/lib/apt/lists')), []);
    assert.equal(readFileSync(join(rootfs, 'etc/hostname'), 'utf8'), 'mitos\n');
    assert.ok(st('etc/resolv.conf').isFile(), 'the resolv.conf symlink is replaced by a file');
    assert.equal(
      readFileSync(sentinel, 'utf8'),
      'nameserver 10.0.0.1\n',
      'the host file behind the symlink is untouched',
    );

    const meta = readBuildMetadata(cacheDir, key);
    assert.equal(meta?.key, key);
    assert.equal(meta?.uidBase, 100_000);
    assert.deepEqual(meta?.packages, ['mitos-test-one']);
    assert.ok(!existsSync(join(cacheDir, 'images', `${key}.lock`)));
  });

  test('a second build is a cache hit; concurrent calls in one process build once', async () => {
    const cacheDir = join(dir, 'cache2');
    const counter = join(dir, 'count2');
    const image = tinyImage('two');
    const progressA: string[] = [];
    const progressB: string[] = [];
    const [a, b] = await Promise.all([
      buildImage(image, options(cacheDir, counter, { onProgress: (l) => progressA.push(l) })),
      buildImage(image, options(cacheDir, counter, { onProgress: (l) => progressB.push(l) })),
    ]);
    assert.equal(a, b);
    assert.equal(runs(counter), 1);
    assert.ok(progressB.includes('I: Retrieving fake packages'), 'the second caller hears the shared build');
    assert.equal(await buildImage(image, options(cacheDir, counter)), a);
    assert.equal(runs(counter), 1);
  });

  test('two processes building the same key build once (lock file)', async () => {
    const cacheDir = join(dir, 'cache3');
    const counter = join(dir, 'count3');
    const image = tinyImage('three');
    const builderUrl = new URL('./builder.js', import.meta.url).href.replace('/dist-test/', '/dist/');
    const script = join(dir, 'other-process.mjs');
    writeFileSync(
      script,
      `const { buildImage } = await import(${JSON.stringify(builderUrl)});
       const [cacheDir, counter, sentinel, fakeScript] = process.argv.slice(2);
       const image = ${JSON.stringify(image)};
       const path = await buildImage(image, { cacheDir, uidBase: 100000, mirror: 'http://mirror.invalid/debian',
         onProgress: (l) => console.log(l),
         bootstrapCommand: (t) => ['sh', '-c', fakeScript, 'fake', t, counter, 'ok', sentinel] });
       console.log('PATH=' + path);`,
    );
    const other = spawn(process.execPath, [script, cacheDir, counter, sentinel, FAKE], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let otherOut = '';
    other.stdout.on('data', (d: Buffer) => {
      otherOut += d.toString();
    });
    const otherDone = new Promise<number | null>((resolve) => other.on('close', resolve));
    const mine = await buildImage(image, options(cacheDir, counter));
    assert.equal(await otherDone, 0);
    assert.match(otherOut, new RegExp(`PATH=${mine}`));
    assert.equal(runs(counter), 1, 'exactly one of the two processes ran debootstrap');
  });

  test('a failed build throws template_build_failed and leaves nothing behind', async () => {
    const cacheDir = join(dir, 'cache4');
    const counter = join(dir, 'count4');
    const image = tinyImage('four');
    await assert.rejects(
      buildImage(image, options(cacheDir, counter, { bootstrapCommand: fake(counter, sentinel, 'fail') })),
      (err: unknown) => {
        assert.ok(err instanceof MitosError);
        assert.equal(err.code, 'template_build_failed');
        assert.match(err.detail, /Couldn't download packages/);
        return true;
      },
    );
    assert.deepEqual(readdirSync(join(cacheDir, 'images')), [], 'no temp dir, lock or half-built image');
    // And the next attempt starts clean and succeeds.
    await buildImage(image, options(cacheDir, counter));
    assert.equal(runs(counter), 2);
  });

  test('a layer starts from its parent tree at plain ids and is shifted once; the parent is reused', async () => {
    const cacheDir = join(dir, 'cache6');
    const counter = join(dir, 'count6');
    const parent = tinyImage('six');
    const layer: ImageSpec = { ...tinyImage('six-layer'), from: parent };
    // The layer's stand-in checks what apt would see (the parent's files, owned by plain root)
    // and adds a file of its own.
    const layerScript = `set -e; t="$1"; [ "$(stat -c %u "$t/etc/os-release")" = 0 ]; echo layer >> "$2"
      echo js > "$t/usr/bin/node"; chown 0:5 "$t/usr/bin/node"`;
    const bootstrapCommand: BootstrapCommand = (target, mirror, image) =>
      image.from
        ? ['sh', '-c', layerScript, 'fake-layer', target, counter]
        : fake(counter, sentinel)(target, mirror, image);
    const parentRootfs = await buildImage(parent, options(cacheDir, counter));
    const rootfs = await buildImage(layer, options(cacheDir, counter, { bootstrapCommand }));
    assert.equal(runs(counter), 2, 'the parent was built once, the layer ran on a copy of it');
    assert.notEqual(imageKey(layer, 100_000), imageKey(parent, 100_000));
    const st = (p: string) => lstatSync(join(rootfs, p));
    assert.equal(st('etc/os-release').uid, 100_000, 'parent files shifted once, not twice');
    assert.equal(st('usr/bin/su').mode & 0o7777, 0o4755, 'setuid survives the round trip');
    assert.equal(st('usr/bin/node').gid, 100_005, "the layer's files are shifted");
    assert.ok(!existsSync(join(parentRootfs, 'usr/bin/node')), 'the parent tree is untouched');
    assert.equal(lstatSync(join(parentRootfs, 'etc/os-release')).uid, 100_000);
    assert.equal(readBuildMetadata(cacheDir, imageKey(layer, 100_000))?.from, imageKey(parent, 100_000));
  });

  test('debris of a crashed build (stale lock, temp dir) is cleared by the next build', async () => {
    const cacheDir = join(dir, 'cache5');
    const counter = join(dir, 'count5');
    const image = tinyImage('five');
    const key = imageKey(image, 100_000);
    const images = join(cacheDir, 'images');
    const dead = spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim();
    mkdirSync(join(images, `.tmp-${key}-${dead}-deadbeef`, 'rootfs'), { recursive: true });
    mkdirSync(join(images, key, 'rootfs'), { recursive: true }); // no .complete: not finished
    writeFileSync(join(images, `${key}.lock`), `${dead}\n`);
    const rootfs = await buildImage(image, options(cacheDir, counter));
    assert.ok(existsSync(join(rootfs, 'etc/os-release')));
    assert.deepEqual(readdirSync(images).sort(), [key]);
  });
});

describe('debootstrap command line', () => {
  test('debootstrap lays down the variant, apt-get installs the sorted, deduplicated packages', () => {
    const argv = debootstrapCommand('/t', 'http://m/debian', {
      name: 'n',
      suite: 'bookworm',
      variant: 'minbase',
      packages: ['npm', 'nodejs', 'npm'],
      limits: { memoryBytes: 1, pids: 1, cpus: 1 },
    });
    assert.deepEqual(argv.slice(0, 2), ['sh', '-c']);
    assert.deepEqual(argv.slice(3), [
      'mitos-build',
      '/t',
      'http://m/debian',
      'bookworm',
      'minbase',
      '',
      '',
      'nodejs',
      'npm',
    ]);
    assert.match(argv[2] as string, /debootstrap --variant="\$variant"/);
    assert.match(argv[2] as string, /apt-get -q -y -o Acquire::Retries=3 --no-install-recommends install "\$@"/);
  });
});
