// What goes into the mitos container image, kept apart from how it is built so tests and the
// chart can read the same facts.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** Bump when the build steps change in a way the input hashes cannot see. */
export const RECIPE_VERSION = 1;

/**
 * Debian packages the image runs on. libstdc++6: the Node binary. debootstrap with its keyring
 * and gpgv: template images are built in the container. btrfs-progs: sandbox snapshots.
 * nftables, iproute2: sandbox networking. util-linux/mount/e2fsprogs: loop images and mounts.
 * QEMU only in the variant, since it triples the image.
 */
export function rootfsPackages({ qemu = false } = {}) {
  const base = [
    'btrfs-progs',
    'ca-certificates',
    'debian-archive-keyring',
    'debootstrap',
    'e2fsprogs',
    'gpgv',
    'iproute2',
    'libstdc++6',
    'mount',
    'nftables',
    'procps',
    'util-linux',
    'wget',
  ];
  return qemu ? [...base, 'qemu-system-x86', 'qemu-utils'] : base;
}

function git(args) {
  const r = spawnSync('git', args, { cwd: repoRoot, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/**
 * OCI labels, derived only from the checkout (never the clock), so two builds of one commit
 * carry identical labels: `created` is the commit's time, not the build's.
 */
export function imageLabels() {
  const cli = JSON.parse(readFileSync(join(repoRoot, 'packages/cli/package.json'), 'utf8'));
  const url = String(cli.repository?.url ?? '')
    .replace(/^git\+/, '')
    .replace(/\.git$/, '');
  const revision = process.env.MITOS_IMAGE_REVISION || git(['rev-parse', 'HEAD']) || 'unknown';
  const epoch = process.env.SOURCE_DATE_EPOCH || git(['log', '-1', '--format=%ct']) || '0';
  return {
    'org.opencontainers.image.title': 'mitos',
    'org.opencontainers.image.description': cli.description ?? 'mitos',
    'org.opencontainers.image.version': cli.version,
    'org.opencontainers.image.revision': revision,
    'org.opencontainers.image.source': url,
    'org.opencontainers.image.licenses': cli.license,
    'org.opencontainers.image.created': new Date(Number(epoch) * 1000).toISOString(),
  };
}
