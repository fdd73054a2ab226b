#!/usr/bin/env node
// Runs every compiled test file with node's test runner, then checks that the run left nothing
// behind on the host: no mount, loop device, cgroup or process of any test state directory.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');

function findTests(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) findTests(p, out);
    else if (entry.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

// Tests compile to dist-test/ (never into a package's dist/); see test-imports.mjs.
const files = readdirSync(join(root, 'packages')).flatMap((pkg) => findTests(join(root, 'packages', pkg, 'dist-test')));
const filter = process.argv.slice(2);
const selected = filter.length > 0 ? files.filter((f) => filter.some((x) => f.includes(x))) : files;
// node --test with no file runs every test it can find: a filter that matches nothing is a typo.
if (filter.length > 0 && selected.length === 0) {
  process.stderr.write(
    `run-tests: no compiled test file matches ${filter.join(', ')} (tests live in packages/*/dist-test)\n`,
  );
  process.exit(2);
}
// Sandboxes and peers bind host device nodes; one that chowns them (an idmapped bind, a peer
// runtime's user namespace) changes the host for everybody. Owner and mode are compared after.
function deviceOwners() {
  const owners = new Map();
  for (const name of readdirSync('/dev')) {
    try {
      const st = lstatSync(`/dev/${name}`);
      if (st.isCharacterDevice() || st.isBlockDevice())
        owners.set(name, `${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)}`);
    } catch {
      // removed while listing
    }
  }
  return owners;
}
const devicesBefore = deviceOwners();

// Network postures add nftables tables, host links and (once) IP forwarding. Tables and links are
// compared by name; forwarding is a host-wide switch a server turns on, so the run puts it back.
function networkState() {
  const tables = (spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout ?? '')
    .split('\n')
    .filter((l) => l.includes(' mitos_'));
  const links = (spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout ?? '')
    .split('\n')
    .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1])
    .filter(Boolean);
  return { tables, links };
}
const FORWARDING = ['/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/ipv6/conf/all/forwarding'];
const forwardingBefore = FORWARDING.map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : undefined));
const networkBefore = networkState();

// The mitos command keeps a per-user code cache under $XDG_CACHE_HOME (else ~/.cache): every
// command a test runs gets one of the run's own, so the suite never writes to the user's home.
const userCliCache = join(homedir(), '.cache', 'mitos');
const userCliCacheBefore = existsSync(userCliCache);
const xdgCache = mkdtempSync(join(tmpdir(), 'mitos-test-xdg-cache-'));

// A second reporter writes TAP to a file, read afterwards to list every skipped test.
const tapDir = mkdtempSync(join(tmpdir(), 'mitos-tap-'));
const tapFile = join(tapDir, 'run.tap');
const result = spawnSync(
  process.execPath,
  [
    '--import',
    join(root, 'scripts/test-imports.mjs'),
    '--test',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...selected,
  ],
  { stdio: 'inherit', cwd: root, env: { ...process.env, MITOS_TEST: '1', XDG_CACHE_HOME: xdgCache } },
);
const skipped = existsSync(tapFile)
  ? readFileSync(tapFile, 'utf8')
      .split('\n')
      .map((line) => /^\s*ok \d+ - (.*) # SKIP\s*(.*)$/.exec(line))
      .filter(Boolean)
      .map((m) => `${m[1]}: ${m[2] || 'no reason given'}`)
  : [];
rmSync(tapDir, { recursive: true, force: true });
rmSync(xdgCache, { recursive: true, force: true });
process.stdout.write(
  skipped.length > 0
    ? `\nskipped tests (${skipped.length}; set MITOS_REQUIRE to make a missing capability fail):\n  ${skipped.join('\n  ')}\n`
    : '\nskipped tests: none\n',
);

// Everything tests make lives under a state directory named mitos-test-*.
const leftovers = [];
for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
  const mountpoint = line.split(' ')[4];
  if (mountpoint?.includes('/mitos-test-')) leftovers.push(`mount ${mountpoint}`);
}
const loops = spawnSync('losetup', ['-a'], { encoding: 'utf8' }).stdout ?? '';
for (const line of loops.split('\n')) if (line.includes('/mitos-test-')) leftovers.push(`loop ${line}`);
for (const ctl of ['memory', 'pids', 'cpu', 'freezer', 'unified']) {
  const dir = `/sys/fs/cgroup/${ctl}`;
  if (!existsSync(dir)) continue;
  for (const name of readdirSync(dir)) if (name.startsWith('mitos-test-')) leftovers.push(`cgroup ${dir}/${name}`);
}
for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    const cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    const ours = cmd.includes('/mitos-test-') || cgroup.includes('/mitos-test-');
    if (state !== 'Z' && ours) leftovers.push(`process ${pid} ${cmd.slice(0, 120)}`);
  } catch {
    // raced with exit
  }
}
if (!userCliCacheBefore && existsSync(userCliCache))
  leftovers.push(`user cache ${userCliCache} (a test ran mitos without the run's XDG_CACHE_HOME)`);
const networkAfter = networkState();
for (const t of networkAfter.tables) if (!networkBefore.tables.includes(t)) leftovers.push(`nftables ${t}`);
for (const l of networkAfter.links) if (!networkBefore.links.includes(l)) leftovers.push(`link ${l}`);
FORWARDING.forEach((f, i) => {
  const before = forwardingBefore[i];
  if (before === undefined || readFileSync(f, 'utf8') === before) return;
  writeFileSync(f, before);
  process.stdout.write(`restored ${f} to ${before.trim()} (a server turned forwarding on for sandbox egress)\n`);
});
const devicesAfter = deviceOwners();
for (const [name, before] of devicesBefore) {
  const after = devicesAfter.get(name);
  if (after !== undefined && after !== before) leftovers.push(`device /dev/${name} was ${before}, now ${after}`);
}
if (leftovers.length > 0) {
  process.stderr.write(
    `\nleak check: the test run left ${leftovers.length} thing(s) behind:\n  ${leftovers.join('\n  ')}\n`,
  );
  process.exit(1);
}
process.stdout.write(
  'leak check: no mount, loop device, cgroup, process, nftables table or link left behind; device nodes as found\n',
);
process.exit(result.status ?? 1);
