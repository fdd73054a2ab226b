/**
 * microVM benchmarks (docs/microvm-bench.md has results and how to read them):
 *   node packages/bench/dist/microvm-bench.js [--runs N] [--template python] [--json FILE]
 * Runs as root on a throwaway state directory (/tmp/mitos-test-*), leaves nothing behind.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { type MicroVmEngine, shmDirFor } from '@mitos/engine';
import { microvmTestEnv, microvmUnavailable } from '@mitos/testkit';

interface Series {
  name: string;
  unit: 'ms' | 'MiB';
  values: number[];
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

function stats(values: number[]): { min: number; median: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  return {
    min: s[0] ?? Number.NaN,
    median: s[Math.floor((s.length - 1) / 2)] ?? Number.NaN,
    max: s.at(-1) ?? Number.NaN,
  };
}

function smapsMiB(pid: number): { rss: number; shared: number; unique: number } {
  const m: Record<string, number> = {};
  for (const line of readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').split('\n')) {
    const x = /^(\w+):\s+(\d+) kB/.exec(line);
    if (x) m[x[1] as string] = Number(x[2]) / 1024;
  }
  return {
    rss: m.Rss ?? 0,
    shared: (m.Shared_Clean ?? 0) + (m.Shared_Dirty ?? 0),
    unique: (m.Private_Clean ?? 0) + (m.Private_Dirty ?? 0),
  };
}

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const settle = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Until the pool holds a VM again (bounded); an engine without the count: a fixed wait. */
async function poolRefilled(engine: MicroVmEngine, fallbackMs: number): Promise<void> {
  const e = engine as { pooledVmPids?: () => number[] };
  if (!e.pooledVmPids) return settle(fallbackMs);
  const deadline = performance.now() + 120_000;
  while (e.pooledVmPids().length < 1) {
    if (performance.now() > deadline) throw new Error('the restore pool did not refill within 120 s');
    await settle(50);
  }
  await settle(200); // the refill's own tail (its cgroup, its trace) is not the create's
}

async function main(): Promise<void> {
  const why = microvmUnavailable();
  if (why) throw new Error(`cannot run: ${why}`);
  const runs = Number(arg('runs', '5'));
  const template = arg('template', 'python');
  // --only create: boot, cold and pooled create, warm exec; no fork sections.
  const only = arg('only', '');
  // Wait between pooled creates for an engine that cannot say when its pool refilled.
  const poolSettleMs = Number(arg('pool-settle-ms', '4000'));
  const series: Series[] = [];
  const add = (name: string, unit: Series['unit'], values: number[]) => {
    series.push({ name, unit, values });
    const s = stats(values);
    process.stderr.write(
      `${name}: min ${s.min.toFixed(1)} / median ${s.median.toFixed(1)} ${unit} (n=${values.length})\n`,
    );
  };

  const loadBefore = loadavg()[0] ?? 0;
  const env = microvmTestEnv({ poolSize: 0 });
  let accel = '';
  try {
    // 1. No pool: every create spawns its QEMU.
    let engine: MicroVmEngine = await env.open();
    await engine.ensureTemplate({ id: template, onProgress: (l) => process.stderr.write(`  ${l}\n`) });
    accel = `${engine.accelerator.accel} (${engine.accelerator.reason})`;
    const boot: number[] = [];
    for (let i = 0; i < Math.min(runs, 3); i++) boot.push(await engine.coldBootMs(template));
    add('plain QEMU boot to agent hello (no snapshot)', 'ms', boot);
    const cold: number[] = [];
    const coldMem: number[] = [];
    for (let i = 0; i < runs; i++) {
      const id = `cold-${i}`;
      cold.push(
        await timeIt(async () => {
          await engine.create({ id, templateId: template });
          await engine.exec(id, { command: 'true', timeoutMs: 30_000 });
        }),
      );
      coldMem.push(smapsMiB(engine.vmPid(id) as number).unique);
      await engine.terminate(id);
    }
    add('restore to first exec, cold (QEMU spawned per create)', 'ms', cold);
    add('  its QEMU after the first exec: unique (Private_Clean + Private_Dirty)', 'MiB', coldMem);
    await engine.close();

    // 2. With a pool of pre-spawned -incoming processes.
    engine = await env.open({ poolSize: 1 });
    await engine.ensureTemplate({ id: template });
    const pooled: number[] = [];
    const pooledCreate: number[] = [];
    const pooledSecond: number[] = [];
    const pooledMem: number[] = [];
    for (let i = 0; i < runs; i++) {
      await poolRefilled(engine, poolSettleMs); // as it would between requests
      const id = `pool-${i}`;
      const t0 = performance.now();
      await engine.create({ id, templateId: template });
      const t1 = performance.now();
      await engine.exec(id, { command: 'true', timeoutMs: 30_000 });
      pooled.push(performance.now() - t0);
      pooledCreate.push(t1 - t0);
      pooledSecond.push(await timeIt(() => engine.exec(id, { command: 'true', timeoutMs: 30_000 })));
      pooledMem.push(smapsMiB(engine.vmPid(id) as number).unique);
      await engine.terminate(id);
    }
    add('restore to first exec, from the pool', 'ms', pooled);
    add('  of which the create', 'ms', pooledCreate);
    add('  not included: the same exec again', 'ms', pooledSecond);
    add('  its QEMU after the first exec: unique (Private_Clean + Private_Dirty)', 'MiB', pooledMem);

    // Steady state: exec round trips on a sandbox that has run a few commands already.
    await engine.create({ id: 'warm', templateId: template });
    for (let i = 0; i < 5; i++) await engine.exec('warm', { command: 'true', timeoutMs: 30_000 });
    const warm: number[] = [];
    for (let i = 0; i < runs * 6; i++)
      warm.push(await timeIt(() => engine.exec('warm', { command: 'true', timeoutMs: 30_000 })));
    add('exec round trip of `true` on a warm sandbox (engine in-process)', 'ms', warm);
    await engine.terminate('warm');

    if (only !== 'create') {
      // 3. Fork of a running sandbox with interpreter state, to the first exec in a child.
      const forkOne: number[] = [];
      const snapshotMs: number[] = [];
      const pausedMs: number[] = [];
      for (let i = 0; i < runs; i++) {
        const p = `fork-p-${i}`;
        await engine.create({ id: p, templateId: template });
        await engine.runCode(p, { code: 'state = bytearray(50 * 1024 * 1024)\nstate[-1] = 1', timeoutMs: 120_000 });
        let child = '';
        forkOne.push(
          await timeIt(async () => {
            const f = await engine.fork(p, { count: 1 });
            child = (f.children[0] as { id: string }).id;
            await engine.exec(child, { command: 'true', timeoutMs: 30_000 });
          }),
        );
        snapshotMs.push(engine.lastForkTimings?.snapshotMs ?? Number.NaN);
        pausedMs.push(engine.lastForkTimings?.parentPausedMs ?? Number.NaN);
        await engine.terminate(child);
        await engine.terminate(p);
      }
      add('fork to first exec in the child (N=1, 50 MB interpreter state)', 'ms', forkOne);
      add('  of which: snapshot (fence, stop, materialize RAM, save devices)', 'ms', snapshotMs);
      add('  parent paused (fence until it answers again)', 'ms', pausedMs);

      // 4. Fan-out: N=4 children, all answering.
      const fan: number[] = [];
      const mem: { rss: number; shared: number; unique: number }[] = [];
      for (let i = 0; i < Math.min(runs, 3); i++) {
        const p = `fan-p-${i}`;
        await engine.create({ id: p, templateId: template });
        await engine.runCode(p, { code: 'state = bytearray(50 * 1024 * 1024)\nstate[-1] = 1', timeoutMs: 120_000 });
        let kids: string[] = [];
        fan.push(
          await timeIt(async () => {
            const f = await engine.fork(p, { count: 4 });
            kids = f.children.map((c) => c.id);
            await Promise.all(kids.map((k) => engine.exec(k, { command: 'true', timeoutMs: 30_000 })));
          }),
        );
        // Each child reads all of the parent's state and changes one page of it, as a working
        // sandbox would; the pages it only read stay shared with its siblings.
        for (const k of kids) {
          await engine.runCode(k, { code: 'total = sum(state[::4096])\nstate[0] = 2', timeoutMs: 60_000 });
        }
        for (const k of kids) mem.push(smapsMiB(engine.vmPid(k) as number));
        if (i === 0) {
          const shm = execFileSync('du', ['-sm', shmDirFor(env.stateDir)], { encoding: 'utf8' }).split('\t')[0];
          process.stderr.write(`  snapshot RAM files on /dev/shm after the fan-out: ${shm} MiB\n`);
        }
        for (const k of kids) await engine.terminate(k);
        await engine.terminate(p);
      }
      add('fan-out N=4: fork to first exec in all 4 children', 'ms', fan);
      add(
        'per child QEMU: Rss',
        'MiB',
        mem.map((m) => m.rss),
      );
      add(
        'per child QEMU: shared (Shared_Clean + Shared_Dirty)',
        'MiB',
        mem.map((m) => m.shared),
      );
      add(
        'per child QEMU: unique (Private_Clean + Private_Dirty)',
        'MiB',
        mem.map((m) => m.unique),
      );
    }
  } finally {
    await env.cleanup();
  }
  const out = {
    accelerator: accel,
    host: { cpus: execFileSync('nproc', { encoding: 'utf8' }).trim(), loadavg1: [loadBefore, loadavg()[0] ?? 0] },
    series: series.map((s) => ({ ...s, ...stats(s.values) })),
  };
  const json = arg('json', '');
  if (json) writeFileSync(json, `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(
    `accelerator: ${accel}\n1-min load average before/after: ${out.host.loadavg1.map((l) => l.toFixed(2)).join(' / ')}\n`,
  );
  for (const s of out.series)
    process.stdout.write(`| ${s.name} | ${s.min.toFixed(0)} | ${s.median.toFixed(0)} | ${s.unit} |\n`);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
