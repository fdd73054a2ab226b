#!/usr/bin/env node
// `npm run image`: the mitos container image, made from nothing a registry serves.
//
//   1. rootfs  debootstrap of Debian (the configured mirror) + the runtime packages
//   2. app     the packed npm packages (the static agent among them) installed offline, and
//              this Node binary
//   3. image   umoci stacks both as layers into an OCI layout, with labels and config;
//              skopeo writes a `podman load`-able archive beside it
//
// Each stage is cached under $MITOS_CACHE_DIR/image (default /var/cache/mitos/image), keyed
// by a hash of its inputs, and built under a lock, like the template images.
//
//   node scripts/image/build.mjs [--qemu] [--json]
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireLock } from '../../packages/engine/dist/templates/build-lock.js';
import { debootstrapCommand, runBootstrap } from '../../packages/engine/dist/templates/debootstrap.js';
import { resolveMirror } from '../../packages/engine/dist/templates/mirror.js';
import { installOffline, packPackages, repoRoot } from '../pack.mjs';
import { imageLabels, RECIPE_VERSION, rootfsPackages } from './recipe.mjs';

const json = process.argv.includes('--json');
const qemu = process.argv.includes('--qemu') || process.env.MITOS_IMAGE_QEMU === '1';
const cacheRoot = join(process.env.MITOS_CACHE_DIR || '/var/cache/mitos', 'image');

function say(msg) {
  process.stderr.write(`[image] ${msg}\n`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.error) throw new Error(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${(r.stderr ?? '').slice(-3000)}`);
  return r.stdout ?? '';
}

function hash(...parts) {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'string' || Buffer.isBuffer(p) ? p : JSON.stringify(p)).update('\0');
  return h.digest('hex').slice(0, 16);
}

/** Builds `dir` with `make(tmpDir)` unless it is already complete; safe against parallel builds. */
async function cached(dir, make) {
  if (existsSync(join(dir, '.complete'))) return dir;
  mkdirSync(cacheRoot, { recursive: true });
  const lock = await acquireLock(`${dir}.lock`, { onWait: (pid) => say(`waiting for pid ${pid} building ${dir}`) });
  try {
    if (existsSync(join(dir, '.complete'))) return dir;
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    try {
      await make(tmp);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
    writeFileSync(join(tmp, '.complete'), `${new Date().toISOString()}\n`);
    renameSync(tmp, dir);
    return dir;
  } finally {
    lock.release();
  }
}

async function buildRootfs() {
  const mirror = resolveMirror();
  const spec = { name: 'mitos-image', suite: 'bookworm', variant: 'minbase', packages: rootfsPackages({ qemu }) };
  const dir = join(cacheRoot, `rootfs-${hash(RECIPE_VERSION, mirror, spec)}`);
  return cached(dir, async (tmp) => {
    const target = join(tmp, 'rootfs');
    say(`debootstrap ${spec.suite} from ${mirror} (${spec.packages.length} packages) into ${target}`);
    await runBootstrap({
      argv: debootstrapCommand(target, mirror, spec),
      target,
      onLine: (line) => say(line),
      timeoutMs: 60 * 60_000,
    });
    // A user for the parts that need no privilege (the controller); root stays for the engine.
    run('chroot', [
      target,
      'useradd',
      '--system',
      '--uid',
      '65532',
      '--user-group',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      'mitos',
    ]);
    for (const junk of ['var/lib/apt/lists', 'var/cache/apt', 'var/log', 'debootstrap']) {
      rmSync(join(target, junk), { recursive: true, force: true });
    }
    mkdirSync(join(target, 'var/lib/apt/lists/partial'), { recursive: true });
    mkdirSync(join(target, 'var/cache/apt/archives/partial'), { recursive: true });
    mkdirSync(join(target, 'var/log'), { recursive: true });
  });
}

async function buildApp(packDir) {
  const tarballs = packPackages(packDir, ['@mitos/cli', '@mitos/sdk', '@mitos/controller']);
  const key = hash(
    RECIPE_VERSION,
    process.version,
    readFileSync(process.execPath),
    ...tarballs.map((t) => readFileSync(t.file)),
  );
  return cached(join(cacheRoot, `app-${key}`), async (tmp) => {
    const root = join(tmp, 'rootfs');
    const lib = join(root, 'usr/lib/mitos');
    mkdirSync(lib, { recursive: true });
    mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
    cpSync(process.execPath, join(root, 'usr/local/bin/node'));
    say(`installing ${tarballs.length} packed packages offline into ${lib}`);
    installOffline(lib, tarballs);
    copyNativeAddon(lib);
    // The manifest and lock name this build's temporary tarballs; the image needs only the tree.
    rmSync(join(lib, 'package.json'));
    rmSync(join(lib, 'package-lock.json'));
    for (const bin of ['mitos', 'mitos-node', 'mitos-controller']) {
      symlinkSync(`/usr/lib/mitos/node_modules/.bin/${bin}`, join(root, 'usr/local/bin', bin));
    }
  });
}

/**
 * better-sqlite3's addon, built by the workspace install for this very Node binary, which is
 * the one the image carries: copied rather than compiled again or fetched.
 */
function copyNativeAddon(dir) {
  const addon = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node';
  mkdirSync(join(dir, 'node_modules/better-sqlite3/build/Release'), { recursive: true });
  cpSync(join(repoRoot, addon), join(dir, addon));
}

async function buildImage(rootfsDir, appDir) {
  const labels = imageLabels();
  const version = labels['org.opencontainers.image.version'];
  const config = {
    env: [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'MITOS_STATE_DIR=/var/lib/mitos',
      'NODE_ENV=production',
    ],
    entrypoint: ['/usr/local/bin/mitos'],
    cmd: ['serve', '--host', '0.0.0.0'],
  };
  const key = hash(RECIPE_VERSION, rootfsDir, appDir, labels, config, qemu);
  const dir = join(cacheRoot, `oci-${key}`);
  await cached(dir, async (tmp) => {
    const layout = join(tmp, 'oci');
    const ref = `${layout}:${version}`;
    say(`stacking layers into ${layout}`);
    run('umoci', ['init', '--layout', layout]);
    run('umoci', ['new', '--image', ref]);
    const created = labels['org.opencontainers.image.created'];
    const history = ['--history.created', created, '--history.author', 'mitos image build'];
    run('umoci', [
      'insert',
      ...history,
      '--history.comment',
      'debian rootfs',
      '--image',
      ref,
      join(rootfsDir, 'rootfs'),
      '/',
    ]);
    run('umoci', ['insert', ...history, '--history.comment', 'mitos', '--image', ref, join(appDir, 'rootfs'), '/']);
    const cfg = ['--created', created, '--author', 'mitos', '--architecture', 'amd64', '--os', 'linux'];
    for (const e of config.env) cfg.push('--config.env', e);
    for (const e of config.entrypoint) cfg.push('--config.entrypoint', e);
    for (const c of config.cmd) cfg.push('--config.cmd', c);
    for (const [k, v] of Object.entries(labels))
      cfg.push('--config.label', `${k}=${v}`, '--manifest.annotation', `${k}=${v}`);
    cfg.push('--config.workingdir', '/', '--config.exposedports', '8080/tcp', '--config.volume', '/var/lib/mitos');
    run('umoci', ['config', ...history, '--history.comment', 'config', '--image', ref, ...cfg]);
    run('umoci', ['gc', '--layout', layout]);
    say('writing the podman load archive');
    run('skopeo', [
      'copy',
      '--quiet',
      `oci:${ref}`,
      `docker-archive:${join(tmp, 'mitos-image.tar')}:${imageName(version)}`,
    ]);
    writeFileSync(join(tmp, 'labels.json'), `${JSON.stringify(labels, null, 2)}\n`);
  });
  return { dir, version, labels };
}

/** The name `podman load` gives the image: podman qualifies unregistered names with localhost/. */
export function imageName(version) {
  return `localhost/mitos:${version}${qemu ? '-qemu' : ''}`;
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('the image build runs as root (debootstrap, chroot, file ownership)');
  for (const tool of ['umoci', 'skopeo', 'debootstrap']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
      throw new Error(`${tool} is missing: run node scripts/setup.mjs`);
  }
  const packDir = join(cacheRoot, `pack-${process.pid}`);
  try {
    const rootfs = await buildRootfs();
    say(`rootfs ${rootfs}`);
    const app = await buildApp(packDir);
    say(`app ${app}`);
    const image = await buildImage(rootfs, app);
    const out = {
      name: imageName(image.version),
      ociLayout: join(image.dir, 'oci'),
      ociRef: `${join(image.dir, 'oci')}:${image.version}`,
      archive: join(image.dir, 'mitos-image.tar'),
      labels: image.labels,
    };
    if (json) process.stdout.write(`${JSON.stringify(out)}\n`);
    else {
      say(`OCI layout  ${out.ociRef}`);
      say(`archive     ${out.archive}   (podman load -i ${out.archive})`);
    }
  } finally {
    rmSync(packDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`[image] ${err.message}\n`);
  process.exit(1);
});
