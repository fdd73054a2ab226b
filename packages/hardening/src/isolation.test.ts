/**
 * What tenants share: two sandboxes (A the attacker, B the victim) on one server, attacking
 * each other through what the kernel keys by host uid (keyrings, key quota, inotify
 * instances), kernel surfaces namespaces do not scope (seccomp), the host mounts and device
 * nodes bound into them, and cgroup hierarchies; and a local host user attacking the storage
 * and command lines. Each test is one finding of issue 12 and failed on the engine before it.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { defaultAgentPath } from '@mitos/engine';
import { create, type Sandbox } from '@mitos/sdk';
import { Recorder } from './figures.js';
import { sandboxCgroupName, sandboxHostPids } from './host.js';
import { type LiveServer, liveServer, stopAndCheck } from './live.js';
import { AS_NOBODY, asLocalUser } from './local-user.js';
import { errnoName, ISOLATION_PROBE_IN_SANDBOX, installIsolationProbe, type ProbeLine, runProbe } from './probe.js';

const rec = new Recorder('isolation', 'Isolation between tenants and from local host users', 8);
const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

describe('tenants and local users cannot reach each other', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let a: Sandbox;
  let b: Sandbox;
  const probe = (sb: Sandbox, args: string) => runProbe(sb, args, ISOLATION_PROBE_IN_SANDBOX);
  const line = (lines: Map<string, ProbeLine>, name: string): ProbeLine => {
    const l = lines.get(name);
    assert.ok(l, `probe did not report ${name}`);
    return l;
  };
  const denied = (lines: Map<string, ProbeLine>, name: string): string => {
    const l = line(lines, name);
    assert.equal(l.allowed, false, `${name} was allowed (${l.detail})`);
    return `denied: ${errnoName(l.errno)}`;
  };

  before(async () => {
    live = await liveServer();
    a = await create('python', { baseUrl: live.url });
    b = await create('python', { baseUrl: live.url });
    await installIsolationProbe(a, live.env.stateDir);
    await installIsolationProbe(b, live.env.stateDir);
  });

  after(async () => {
    for (const f of [
      'every sandbox mapped root to host uid 100000: B saw and read A\u2019s keys, A could exhaust the shared key quota, and inotify instances came from one pool (now one host uid range per sandbox, the user namespace created as that uid)',
      'no seccomp filter: io_uring, perf_event_open, userfaultfd, AF_VSOCK, AF_PACKET, fsopen and time namespaces all worked (now a default filter)',
      'host binds and device nodes were made inside the sandbox\u2019s own mount namespace, so its root could remount them read-write; a non-root-owned host device node was bound as is (now built by host root, locked by the kernel, refused if not root-owned)',
      'sandboxes joined only memory, pids, cpu, cpuacct and freezer: a v1 hierarchy mounted inside showed the host\u2019s root cgroup and release_agent (now every mounted hierarchy)',
      'storage/btrfs.img was 0644 and the tree traversable, the volume mounted without nosuid,nodev (now 0600, 0700, nosuid,nodev)',
    ])
      rec.finding(f);
    await stopAndCheck(live, rec);
  });

  test('kernel keyrings: A\u2019s key is invisible to B, and A cannot exhaust B\u2019s key quota', async () => {
    const added = line(await probe(a, 'key-add tenant-a-secret'), 'key-add');
    assert.equal(added.allowed, true, `A could not add a key: ${added.detail}`);
    const serial = added.detail.trim();
    const procKeys = await b.exec('cat /proc/keys');
    assert.doesNotMatch(procKeys.stdout, /tenant-a-secret/, 'B sees A\u2019s key in /proc/keys');
    const steal = await probe(b, `key-steal ${serial}`);
    const outcome = ['key-describe', 'key-link', 'key-read'].map((n) => `${n} ${denied(steal, n)}`).join(', ');
    rec.check('B describes, links and reads A\u2019s key by serial', outcome);
    const filled = Number(line(await probe(a, 'key-fill'), 'key-fill').detail);
    assert.ok(filled > 0, 'A added no keys');
    const after = line(await probe(b, 'key-add tenant-b-after-fill'), 'key-add');
    assert.equal(after.allowed, true, `B lost its key quota to A (${errnoName(after.errno)})`);
    rec.check('A fills the key quota, then B adds a key', `A stopped after ${filled} keys; B unaffected`);
    rec.count('attacks', 2);
  });

  test('per-user counters: inotify instances A holds do not reduce B\u2019s', async () => {
    await a.exec(`nohup ${ISOLATION_PROBE_IN_SANDBOX} inotify-hold 30 >/tmp/hold.out 2>&1 &`);
    let held = '';
    for (let i = 0; i < 50 && !held.includes('inotify-hold ok'); i++) {
      held = (await a.exec('cat /tmp/hold.out')).stdout;
      if (!held.includes('inotify-hold ok')) await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(held, /inotify-hold ok 0 30/);
    const limit = Number(readFileSync('/proc/sys/user/max_inotify_instances', 'utf8'));
    const count = Number(line(await probe(b, 'inotify-count'), 'inotify-count').detail);
    assert.ok(count >= limit - 4, `B could make only ${count} of ${limit} inotify instances while A held 30`);
    rec.check('A holds 30 inotify instances; B counts its own', `B made ${count} of ${limit}`);
    rec.count('attacks');
  });

  test('default seccomp filter: io_uring, perf, userfaultfd, bpf, vsock, packet, new mount API, time ns', async () => {
    const lines = await probe(a, 'seccomp');
    const names = [
      'io-uring',
      'perf-event',
      'userfaultfd',
      'bpf',
      'af-vsock',
      'af-packet',
      'fsopen',
      'open-tree',
      'time-namespace',
      'kexec',
      'finit-module',
    ];
    for (const n of names) rec.check(`seccomp: ${line(lines, n).detail.trim()}`, denied(lines, n));
    assert.equal(line(lines, 'inet-socket').allowed, true, 'the filter broke ordinary sockets');
    rec.count('attacks', names.length);
  });

  test('host binds and device nodes are read-only and locked', async () => {
    const lines = await probe(a, 'locked /opt/mitos/kernels');
    const names = [
      'remount-bind-rw',
      'umount-bind',
      'chmod-dev-null',
      'chown-dev-null',
      'remount-dev-null-rw',
      'umount-dev-null',
    ];
    for (const n of names) rec.check(`${n}: ${line(lines, n).detail.trim()}`, denied(lines, n));
    assert.equal(line(lines, 'write-dev-null').allowed, true, '/dev/null must stay usable');
    // The init's own program, bound from the host: as locked as the other binds.
    const init = await probe(a, 'locked /opt/mitos/init');
    for (const n of ['remount-bind-rw', 'umount-bind'])
      rec.check(`${n}: ${line(init, n).detail.trim()}`, denied(init, n));
    for (const d of DEVICES) {
      const st = statSync(`/dev/${d}`);
      assert.equal(st.uid, 0, `host /dev/${d} owner changed to ${st.uid}`);
    }
    rec.count('attacks', names.length + 2);
  });

  test('a fork of a sandbox that swapped /opt/mitos for a symlink to a host dir writes nothing there', async () => {
    // The launcher makes the kernels and init mountpoints in the (parent's) root as host root:
    // each path component is walked without following symlinks, so the fork fails instead.
    const plant = mkdtempSync('/tmp/mitos-test-plant-');
    chmodSync(plant, 0o1777);
    const s = await create('python', { baseUrl: live.url });
    try {
      const r = await s.exec(`mv /opt/mitos /opt/moved && ln -s ${plant} /opt/mitos && readlink /opt/mitos`);
      assert.equal(r.stdout.trim(), plant, r.stderr);
      const err = await s.fork(1).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      assert.ok(err, 'the fork followed the planted symlink');
      assert.deepEqual(readdirSync(plant), [], 'a mountpoint was made in a host directory');
      rec.check('fork of a root whose /opt/mitos is a symlink to a host dir', 'fork refused; nothing made on the host');
      rec.count('attacks');
    } finally {
      await s.terminate();
      rmSync(plant, { recursive: true, force: true });
    }
  });

  test('the launcher refuses a bound device whose host inode is not root-owned', () => {
    // A private mount namespace shows the launcher a /dev/null owned by the template range,
    // as a peer runtime once left the host's: the host's own /dev/null is never touched.
    const dir = mkdtempSync('/tmp/mitos-test-dev-');
    try {
      const root = join(dir, 'root');
      mkdirSync(root);
      chownSync(root, 1_000_000_000, 1_000_000_000);
      const script = [
        'set -e',
        `mknod ${dir}/null c 1 3`,
        `chown 100000:100000 ${dir}/null`,
        `mount --bind ${dir}/null /dev/null`,
        `exec "$0" launch --id dev-check --socket ${dir}/s.sock --init ${join(live.env.stateDir, 'mitos-init')} --uid-base 1000000000 --rootfs ${root}`,
      ].join('\n');
      const agent = defaultAgentPath();
      const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, agent], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.notEqual(r.status, 0, `launch succeeded with a non-root /dev/null: ${r.stdout}`);
      assert.match(r.stderr, /refusing to bind \/dev\/null/);
      rec.check('launch with a /dev/null owned by uid 100000', `refused: ${r.stderr.trim().split('\n').at(-1)}`);
      rec.count('attacks');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('every cgroup hierarchy is the sandbox\u2019s own (no host root, no release_agent)', async () => {
    for (const controller of ['devices', 'blkio', 'cpuset']) {
      const lines = await probe(a, `cgroup-v1 ${controller}`);
      const mounted = line(lines, 'cgroup-mount');
      const outcome = mounted.allowed
        ? `mounted its own subtree: ${denied(lines, 'cgroup-release-agent')} for release_agent`
        : `mount denied: ${errnoName(mounted.errno)}`;
      rec.check(`mount the ${controller} v1 hierarchy inside`, outcome);
    }
    rec.count('attacks', 3);
  });

  test('a local host user cannot read the storage, run a planted setuid file, or learn ids', async () => {
    await a.exec('cp /bin/sh /workspace/suid-sh && chmod 4755 /workspace/suid-sh && echo private > /workspace/a.txt');
    const storage = join(live.env.stateDir, 'storage');
    const image = join(storage, 'btrfs.img');
    assert.equal(statSync(image).mode & 0o777, 0o600, 'image mode');
    assert.equal(statSync(live.env.stateDir).mode & 0o777, 0o700, 'state dir mode');
    const vol = spawnSync('findmnt', ['-no', 'OPTIONS', join(storage, 'vol')], { encoding: 'utf8' }).stdout.split(',');
    assert.ok(vol.includes('nosuid') && vol.includes('nodev'), `volume options ${vol}`);
    const read = asLocalUser(['head', '-c', '1', image]);
    assert.notEqual(read.code, 0, 'a local user read the btrfs image');
    const list = asLocalUser(['ls', join(storage, 'vol', 'sandboxes')]);
    assert.notEqual(list.code, 0, 'a local user listed the sandboxes');
    rec.check('local user reads storage/btrfs.img', `refused (${read.out.trim().split(':').at(-1)?.trim()})`);
    rec.check('local user lists or enters the sandboxes tree', 'refused: state dir 0700');
    rec.check('setuid file planted by a sandbox', 'volume mounted nosuid,nodev and unreachable to host users');
    for (const pid of [...sandboxHostPids(live.env.cgroupParent, sandboxCgroupName(live.env.stateDir, a.id))]) {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      assert.ok(!cmdline.includes(a.id) && !cmdline.includes(live.env.stateDir), `pid ${pid} shows ${cmdline}`);
    }
    const launchers = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout;
    assert.ok(!launchers.includes(`--id ${a.id}`), 'a launcher command line names the sandbox');
    rec.check('local user reads process command lines', 'no sandbox id or state path in them');
    rec.count('attacks', 4);
  });

  test('a local user watching every command line while sandboxes launch and fork sees no id or path', async () => {
    // The watcher runs as the host's nobody and reads every /proc/PID/cmdline in a tight loop
    // for as long as the launches and the fork (a snapshot by the agent) take.
    const watcher = spawn(
      'setpriv',
      [
        ...AS_NOBODY,
        '--',
        process.execPath,
        '-e',
        `const fs = require('node:fs');
         const seen = new Set();
         process.stdin.on('data', () => { for (const s of seen) console.log(s); process.exit(0); });
         (function scan() {
           for (const pid of fs.readdirSync('/proc')) {
             if (!/^\\d+$/.test(pid) || pid === String(process.pid)) continue;
             try {
               const cmd = fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8').replaceAll('\\0', ' ');
               if (cmd.includes(process.env.WATCH_FOR) || / launch --id /.test(cmd)) seen.add(cmd);
             } catch {}
           }
           setImmediate(scan);
         })();`,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, WATCH_FOR: live.env.stateDir } },
    );
    let seen = '';
    watcher.stdout?.setEncoding('utf8').on('data', (d: string) => {
      seen += d;
    });
    const exited = new Promise((resolve) => watcher.on('exit', resolve));
    const made: Sandbox[] = [];
    try {
      for (let i = 0; i < 3; i++) made.push(await create('python', { baseUrl: live.url }));
      made.push(...(await (made[0] as Sandbox).fork(1)));
      // Teardown deletes each root's subvolume: that must not name it either.
      for (const s of made.splice(0)) await s.terminate();
    } finally {
      watcher.stdin?.end('done\n');
      await exited;
    }
    assert.equal(seen, '', 'command lines a local user saw');
    rec.check(
      'local user watches command lines during 3 launches, a fork and 4 terminations',
      'no sandbox id or state path seen',
    );
    rec.count('attacks');
  });
});
