#!/usr/bin/env node
// One idempotent set-up for a fresh machine: Debian packages (when root), npm dependencies,
// the TypeScript build and the static agent. Safe to run before every start and test run;
// each step is skipped when its inputs have not changed.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamps = join(root, 'node_modules', '.mitos-setup');
const quiet = process.argv.includes('--quiet');

function say(msg) {
  if (!quiet) process.stderr.write(`[setup] ${msg}\n`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) {
    process.stderr.write(`[setup] failed: ${cmd} ${args.join(' ')}\n`);
    process.exit(r.status ?? 1);
  }
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function stampMatches(name, value) {
  const file = join(stamps, name);
  return existsSync(file) && readFileSync(file, 'utf8') === value;
}

function writeStamp(name, value) {
  mkdirSync(stamps, { recursive: true });
  writeFileSync(join(stamps, name), value);
}

function hashFiles(files) {
  const h = createHash('sha256');
  for (const f of files) {
    const p = join(root, f);
    h.update(f);
    if (existsSync(p)) h.update(readFileSync(p));
  }
  return h.digest('hex');
}

// 1. Debian packages the engine runs on (root only: the engine itself needs root).
const debs = [
  ['debootstrap', 'debootstrap'],
  ['mkfs.btrfs', 'btrfs-progs'],
  ['cc', 'gcc'],
  ['make', 'make'],
  ['losetup', 'mount'],
  ['tmux', 'tmux'],
  // sandbox network postures (nftables rules, veth links configured with iproute2's ip)
  ['nft', 'nftables'],
  // the network tests' fake internet serves TLS with a certificate it makes
  ['openssl', 'openssl'],
  // the microvm engine and its tests
  ['qemu-system-x86_64', 'qemu-system-x86'],
  ['qemu-img', 'qemu-utils'],
  // the container image: built with umoci + skopeo, run by its tests with podman
  ['umoci', 'umoci'],
  ['skopeo', 'skopeo'],
  ['podman', 'podman'],
  ['runc', 'runc'],
  // the web console's browser tests (playwright-core drives Debian's headless Chromium)
  ['chromium', 'chromium'],
  // OCI images for templates: skopeo talks to registries, umoci unpacks layers (whiteouts,
  // safe paths); the tests run Debian's registry with htpasswd (bcrypt) auth
  ['skopeo', 'skopeo'],
  ['umoci', 'umoci'],
  ['docker-registry', 'docker-registry'],
  ['htpasswd', 'apache2-utils'],
];
const staticLibc = '/usr/lib/x86_64-linux-gnu/libc.a';
const missing = debs.filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg);
if (!existsSync(staticLibc)) missing.push('libc6-dev');
// Node's own headers build the server's TCP quick-ACK addon (packages/server/native); Node
// from nodesource ships them beside the binary, Debian's nodejs in libnode-dev.
const nodeHeaders = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'];
if (!nodeHeaders.some((d) => existsSync(join(d, 'node_api.h')))) missing.push('libnode-dev');
// the exec benchmark's Python client (the seed SDK's HTTP library), for Debian's own python3
if (spawnSync('/usr/bin/python3', ['-c', 'import httpx'], { stdio: 'ignore' }).status !== 0)
  missing.push('python3-httpx');
if (missing.length > 0) {
  if (process.getuid?.() === 0) {
    say(`installing Debian packages: ${missing.join(' ')}`);
    run('apt-get', ['update', '-q']);
    run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } else {
    say(`missing Debian packages (run as root to install): ${missing.join(' ')}`);
  }
}

// CRIU for forks that carry running processes. Bookworm's 3.17 fails on kernels >= 6.13
// (vDSO layout), and trixie's 4.1.1 cannot dump a TCP or UDP socket on kernels >= 6.16 (they
// refuse SO_PASSCRED there); 4.2 handles both. So the pinned release comes from Debian forky,
// as a debootstrapped tree of its own (it needs that suite's libc) kept in the cache directory
// under a name made of its inputs; the engine runs it through that tree's loader
// (packages/engine/src/host/criu.ts holds the same pin). Bookworm's debootstrap has no forky
// script; forky is Debian testing, which the sid script bootstraps.
const CRIU_SUITE = 'forky';
const CRIU_VERSION = '4.2.1-1';
const criuDir = join(process.env.MITOS_CACHE_DIR ?? '/var/cache/mitos', 'criu', `${CRIU_SUITE}-${CRIU_VERSION}`);
if (process.getuid?.() === 0 && !existsSync(join(criuDir, 'ready'))) {
  const mirror = process.env.MITOS_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
  const tmp = `${criuDir}.tmp-${process.pid}`;
  say(`installing CRIU ${CRIU_VERSION} from Debian ${CRIU_SUITE} into ${criuDir} (a few minutes, once)`);
  mkdirSync(dirname(criuDir), { recursive: true });
  const script = '/usr/share/debootstrap/scripts/sid';
  run('debootstrap', ['--variant=minbase', '--include=criu', CRIU_SUITE, tmp, mirror, script], {
    stdio: quiet ? 'ignore' : 'inherit',
  });
  const got = spawnSync('chroot', [tmp, 'dpkg-query', '-W', '-f=${Version}', 'criu'], { encoding: 'utf8' }).stdout;
  if (got !== CRIU_VERSION) {
    spawnSync('rm', ['-rf', '--one-file-system', tmp]);
    process.stderr.write(
      `[setup] Debian ${CRIU_SUITE} serves criu ${got || '(none)'}, not the pinned ${CRIU_VERSION}: ` +
        'update the pin here and in packages/engine/src/host/criu.ts after checking the new release\n',
    );
    process.exit(1);
  }
  // Only root may run or change what runs as root against sandbox processes.
  run('chmod', ['0700', tmp]);
  run('mv', ['-T', tmp, criuDir]);
  writeFileSync(join(criuDir, 'ready'), `${CRIU_VERSION}\n`);
}

// 2. npm dependencies, when the lock file changed since the last install.
const lockHash = hashFiles(['package.json', 'package-lock.json', ...workspacePackageJsons()]);
if (!existsSync(join(root, 'node_modules')) || !stampMatches('npm', lockHash)) {
  say('installing npm dependencies');
  // A fresh clone gets the exact lock file; an existing tree is updated in place, never wiped
  // (another process may be using it).
  const fresh = !existsSync(join(root, 'node_modules', '.package-lock.json'));
  run('npm', [fresh ? 'ci' : 'install', '--no-audit', '--no-fund']);
  // npm drops an optional package silently when its download fails (seen once under load: the
  // buf binary for this platform was missing and proto generation failed much later). One more
  // install fills the gaps; still missing after it is an error, not a surprise at test time.
  if (missingPlatformPackages().length > 0) run('npm', ['install', '--no-audit', '--no-fund']);
  const missing = missingPlatformPackages();
  if (missing.length > 0) {
    process.stderr.write(`[setup] npm did not install ${missing.join(', ')}; check the registry and retry\n`);
    process.exit(1);
  }
  writeStamp('npm', lockHash);
}

/** Optional platform packages (native binaries) the lock file lists for this host, not on disk. */
function missingPlatformPackages() {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const libc = process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl';
  const fits = (list, value) => !Array.isArray(list) || list.includes(value);
  return Object.entries(lock.packages ?? {})
    .filter(([path, p]) => path.startsWith('node_modules/') && p.optional && (p.os || p.cpu))
    .filter(([, p]) => fits(p.os, process.platform) && fits(p.cpu, process.arch) && fits(p.libc, libc))
    .filter(([path]) => !existsSync(join(root, path, 'package.json')))
    .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
}

// npm skips install scripts it has not been told to trust; the native SQLite binding must load.
const sqliteLoads = () =>
  spawnSync(process.execPath, ['-e', "new (require('better-sqlite3'))(':memory:')"], { cwd: root, stdio: 'ignore' })
    .status === 0;
if (!sqliteLoads()) {
  say('building the better-sqlite3 native module');
  run('npm', ['rebuild', 'better-sqlite3']);
  if (!sqliteLoads()) {
    process.stderr.write('[setup] better-sqlite3 does not load; install python3, make and g++ and retry\n');
    process.exit(1);
  }
}

// 3. Build TypeScript and the agent (both incremental).
say('building');
run('npm', ['run', '-s', 'build']);

function workspacePackageJsons() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return (pkg.workspaces ?? []).map((w) => `${w}/package.json`);
}
