#!/usr/bin/env node
// What a host process costs the engine to start, from a node process the size of a server:
// child_process.spawn in this process (libuv forks it whole) against two helpers started while
// it was still small: a bare node child spawning on request over IPC, and the agent's C
// spawner (posix_spawn, the engine's host/spawner.ts). Each round starts /bin/true once per
// way, in turn, timed from the request to its exit; then 16 at once per way (what a fan-out 16
// asks for: one launcher per child). Run after `npm run build`:
//
//   node packages/bench/spike/spawn-cost.mjs [ROUNDS] [HELD_MB]     (default 60 rounds, 200 MB)
import { fork, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

if (process.argv[2] === '--node-helper') {
  // The bare node helper: spawn what it is asked, answer with the exit.
  process.on('message', ({ id, file, args }) => {
    spawn(file, args, { stdio: 'ignore' }).on('exit', (code) => process.send({ id, code }));
  });
  process.on('disconnect', () => process.exit(0));
} else {
  await main(Number(process.argv[2] ?? 60), Number(process.argv[3] ?? 200));
}

async function main(rounds, heldMb) {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const root = resolve(here, '../../..');
  const { Spawner } = await import(pathToFileURL(resolve(root, 'packages/engine/dist/host/spawner.js')).href);
  const agent = resolve(root, 'packages/agent/build/mitos-agent');
  // Both helpers start while this process is small, as the engine starts its spawner at open.
  const spawner = new Spawner(agent);
  spawner.start();
  const helper = fork(fileURLToPath(import.meta.url), ['--node-helper'], { stdio: 'ignore' });
  const waiting = new Map();
  let nextId = 1;
  helper.on('message', ({ id, code }) => waiting.get(id)?.(code));
  // A server's size: a heap of small objects and buffers, every page touched.
  const held = [];
  for (let i = 0; i < heldMb / 2; i++) held.push(Buffer.alloc(1024 * 1024, i));
  for (let i = 0; i < (heldMb / 2) * 8000; i++) held.push({ i, s: `x${i}` });
  const ways = {
    'child_process.spawn in this process': () =>
      new Promise((ok) => spawn('/bin/true', [], { stdio: 'ignore' }).on('exit', ok)),
    'bare node helper over IPC': () =>
      new Promise((ok) => {
        const id = nextId++;
        waiting.set(id, (code) => {
          waiting.delete(id);
          ok(code);
        });
        helper.send({ id, file: '/bin/true', args: [] });
      }),
    'C spawner (mitos-agent spawner)': () => spawner.run('/bin/true', [], { env: {} }),
  };
  const names = Object.keys(ways);
  const one = names.map(() => []);
  const sixteen = names.map(() => []);
  const loadStart = loadavg().map((l) => l.toFixed(2)).join(' ');
  for (let i = 0; i < rounds + 5; i++) {
    for (const [k, name] of names.entries()) {
      let t = performance.now();
      await ways[name]();
      if (i >= 5) one[k].push(performance.now() - t);
      if (i % 4 !== 0) continue;
      t = performance.now();
      await Promise.all(Array.from({ length: 16 }, () => ways[name]()));
      if (i >= 5) sixteen[k].push(performance.now() - t);
    }
  }
  const q = (xs, f) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * f)].toFixed(2);
  console.log(`rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB; load average ${loadStart} -> ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log('| way | one spawn to exit: median (p95) ms | 16 at once, all exited: median (p95) ms |');
  console.log('|---|---:|---:|');
  for (const [k, name] of names.entries()) {
    console.log(`| ${name} | ${q(one[k], 0.5)} (${q(one[k], 0.95)}) | ${q(sixteen[k], 0.5)} (${q(sixteen[k], 0.95)}) |`);
  }
  held.length = 0;
  helper.disconnect();
  await spawner.close();
}
