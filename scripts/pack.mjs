#!/usr/bin/env node
// Packs the publishable workspace packages into npm tarballs, the same files `npm publish`
// would upload. The image build installs from these tarballs and the packaging test installs
// them into an empty project, so what users get is what is tested.
//
//   node scripts/pack.mjs [--json] [--install DIR] DEST [@mitos/name ...]
//     default names: @mitos/cli, @mitos/sdk and their workspace dependencies; --install DIR also
//     installs the tarballs into DIR with no network (installOffline)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The packages a user installs directly; their workspace dependencies come along. */
export const ENTRY_PACKAGES = ['@mitos/cli', '@mitos/sdk'];

function workspaceManifests() {
  const root = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  const byName = new Map();
  for (const dir of root.workspaces) {
    const manifest = JSON.parse(readFileSync(join(repoRoot, dir, 'package.json'), 'utf8'));
    byName.set(manifest.name, { dir, manifest });
  }
  return byName;
}

/** `names` plus every workspace package they depend on at run time, in a stable order. */
export function withWorkspaceDependencies(names) {
  const byName = workspaceManifests();
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name)) return;
    const entry = byName.get(name);
    if (!entry) throw new Error(`${name} is not a workspace package`);
    if (entry.manifest.private) throw new Error(`${name} is private and cannot be packed`);
    seen.add(name);
    for (const dep of Object.keys(entry.manifest.dependencies ?? {})) if (byName.has(dep)) visit(dep);
  };
  for (const name of names) visit(name);
  return [...seen].sort();
}

/**
 * Runs `npm pack` for `names` (and their workspace dependencies) into `dest`.
 * Returns [{ name, version, file, files: [paths inside the tarball] }].
 */
export function packPackages(dest, names = ENTRY_PACKAGES) {
  mkdirSync(dest, { recursive: true });
  const all = withWorkspaceDependencies(names);
  const args = ['pack', '--json', '--pack-destination', resolve(dest), ...all.flatMap((n) => ['-w', n])];
  const r = spawnSync('npm', args, { cwd: repoRoot, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`npm pack failed: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout).map((p) => ({
    name: p.name,
    version: p.version,
    file: join(resolve(dest), p.filename),
    files: p.files.map((f) => f.path),
  }));
}

/**
 * A package-lock.json that installs `packed` (tarballs) with the third-party versions the
 * workspace lock pins. npm cannot resolve versions offline (a workspace `npm ci` caches the
 * tarballs but not the registry metadata), so the tree is spelled out: each @mitos package from
 * its tarball, everything else exactly as in the workspace lock, found in npm's cache by its
 * integrity. Unused entries are pruned by npm.
 */
export function lockfileFor(packed, rootDeps) {
  const workspaceLock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8'));
  const byName = workspaceManifests();
  const dirToName = new Map([...byName].map(([name, { dir }]) => [dir, name]));
  const packages = { '': { dependencies: rootDeps } };
  for (const [path, entry] of Object.entries(workspaceLock.packages)) {
    if (path === '' || entry.link || entry.dev) continue;
    if (path.startsWith('node_modules/')) {
      if (!path.startsWith('node_modules/@mitos/')) packages[path] = entry;
      continue;
    }
    // A workspace package's own node_modules (a version that could not be hoisted).
    const m = /^(packages\/[^/]+)\/(node_modules\/.+)$/.exec(path);
    const name = m && dirToName.get(m[1]);
    if (name && packed.some((p) => p.name === name)) packages[`node_modules/${name}/${m[2]}`] = entry;
  }
  for (const p of packed) {
    const manifest = JSON.parse(readFileSync(join(repoRoot, byName.get(p.name).dir, 'package.json'), 'utf8'));
    packages[`node_modules/${p.name}`] = {
      version: p.version,
      resolved: `file:${p.file}`,
      license: manifest.license,
      dependencies: manifest.dependencies,
      ...(manifest.peerDependencies && { peerDependencies: manifest.peerDependencies }),
      ...(manifest.peerDependenciesMeta && { peerDependenciesMeta: manifest.peerDependenciesMeta }),
      ...(manifest.bin && { bin: manifest.bin }),
      engines: manifest.engines,
    };
  }
  return { name: 'mitos-install', lockfileVersion: 3, requires: true, packages };
}

/**
 * Installs `packed` into `dir` (which has no package.json yet) with no network: `npm ci
 * --offline` over lockfileFor(). `--ignore-scripts`: better-sqlite3 would compile its addon;
 * callers that need the addon copy the workspace's build (same Node, same ABI).
 */
export function installOffline(dir, packed, { omitDev = true } = {}) {
  const deps = Object.fromEntries(packed.map((p) => [p.name, `file:${p.file}`]));
  mkdirSync(dir, { recursive: true });
  const manifest = { name: 'mitos-install', private: true, type: 'module', dependencies: deps };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(dir, 'package-lock.json'), `${JSON.stringify(lockfileFor(packed, deps), null, 2)}\n`);
  const args = ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', ...(omitDev ? ['--omit=dev'] : [])];
  const r = spawnSync('npm', args, { cwd: dir, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`npm ci --offline failed: ${r.stderr.slice(-3000)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const at = argv.indexOf('--install');
  const installDir = at >= 0 ? argv.splice(at, 2)[1] : undefined;
  const [dest, ...names] = argv.filter((a) => a !== '--json');
  if (!dest) {
    process.stderr.write('usage: node scripts/pack.mjs [--json] [--install DIR] DEST [@mitos/name ...]\n');
    process.exit(2);
  }
  const packed = packPackages(dest, names.length > 0 ? names : ENTRY_PACKAGES);
  if (installDir) installOffline(installDir, packed);
  if (json) process.stdout.write(`${JSON.stringify(packed)}\n`);
  else for (const p of packed) process.stdout.write(`${p.file}\t${p.files.length} files\n`);
}
