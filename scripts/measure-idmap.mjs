// Measures what giving a fork its own host uid range costs, both ways: an idmapped mount of
// its btrfs snapshot (what the launcher does) against shifting the snapshot's ownership
// (lchown of every inode). Usage (root, after `npm run build`, python template cached):
//   node scripts/measure-idmap.mjs [runs]
import { execFileSync, spawn } from 'node:child_process';
import { lchownSync, lstatSync, mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { defaultAgentPath, LinuxEngine } from '@mitos/engine';

const runs = Number(process.argv[2] ?? 10);
const stateDir = mkdtempSync('/tmp/mitos-test-idm-');
const engine = await LinuxEngine.open({ stateDir, cgroupParent: `mitos-test-${stateDir.slice(-6)}`, warmPoolSize: 0 });
await engine.ensureTemplate({ id: 'python' });
const vol = engine.storage.mountPoint;
const image = join(
  vol,
  'images',
  readdirSync(join(vol, 'images')).find((n) => !n.startsWith('.')),
);
const agent = defaultAgentPath();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function snapshot(name) {
  const dst = join(vol, 'sandboxes', name);
  execFileSync(agent, ['snapshot', image, dst]);
  return dst;
}

function launch(rootfs, uidBase, diskBase, id) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const args = [
      'launch',
      '--id',
      id,
      '--socket',
      join(stateDir, 'run', `${id}.sock`),
      '--init',
      join(stateDir, 'mitos-init'),
      '--uid-base',
      String(uidBase),
      '--disk-base',
      String(diskBase),
      '--rootfs',
      rootfs,
    ];
    const child = spawn(agent, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (!out.includes('\n')) return;
      const ms = performance.now() - started;
      process.kill(Number(out.trim()), 'SIGKILL');
      child.on('exit', () => resolve(ms));
    });
    child.stderr.on('data', (d) => reject(new Error(String(d))));
  });
}

function shift(root, delta) {
  let entries = 0;
  const walk = (p) => {
    const st = lstatSync(p);
    lchownSync(p, st.uid + delta, st.gid + delta);
    entries++;
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
  };
  const started = performance.now();
  walk(root);
  return { ms: performance.now() - started, entries };
}

const plain = [];
const idmapped = [];
const shifted = [];
let inodes = 0;
for (let i = 0; i < runs; i++) {
  plain.push(await launch(snapshot(`p${i}`), 100_000, 100_000, `p${i}`));
  idmapped.push(await launch(snapshot(`m${i}`), 1_000_000_000 + i * 65_536, 100_000, `m${i}`));
  if (i < 3) {
    const s = shift(snapshot(`s${i}`), 1_000_000_000 - 100_000);
    shifted.push(s.ms);
    inodes = s.entries;
  }
}
console.log(`launch, shared range (no idmap): median ${median(plain).toFixed(1)} ms (n=${runs})`);
console.log(`launch, own range via idmapped mount: median ${median(idmapped).toFixed(1)} ms (n=${runs})`);
console.log(
  `shift the snapshot to a new range instead: median ${median(shifted).toFixed(0)} ms for ${inodes} inodes (n=${shifted.length})`,
);
await engine.storage.destroy();
await engine.close();
execFileSync('rm', ['-rf', stateDir]);
for (const c of ['memory', 'pids', 'cpu', 'freezer', 'cpuacct', 'devices', 'blkio', 'cpuset', 'systemd', 'unified'])
  try {
    execFileSync('rmdir', [`/sys/fs/cgroup/${c}/mitos-test-${stateDir.slice(-6)}`], { stdio: 'ignore' });
  } catch {}
