/**
 * Load: 50 concurrent clients against `mitos serve` in its own process, each creating a
 * sandbox, running commands, writing and reading files, forking and terminating, for a bounded
 * time and request count. Zero errors outside documented limits (429s are documented), no
 * leaked sandbox, root, cgroup, process or file descriptor afterwards, and latency recorded.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { testEngineEnv } from '@mitos/testkit';
import { type Api, call, inventory, listedIds } from './cluster.js';
import { Recorder } from './figures.js';
import { freePort, type ServeProcess, spawnServe, stopServeAndCheck, waitHealthy } from './live.js';

const rec = new Recorder('load', 'Load: 50 concurrent clients', 7);
const CLIENTS = 50;
const DURATION_MS = Number(process.env.MITOS_HARDENING_LOAD_MS ?? 60_000);
const MAX_REQUESTS = 20_000;

type Op = 'create' | 'exec' | 'write' | 'read' | 'list' | 'fork' | 'terminate';

const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const rssMiB = (pid: number) =>
  Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

describe('50 concurrent clients, mixed operations', { timeout: 900_000 }, () => {
  const env = testEngineEnv();
  let proc: ServeProcess;
  let api: Api;

  before(async () => {
    proc = spawnServe(env, await freePort());
    api = { url: proc.url };
    await waitHealthy(api.url, 120_000);
    const t = await call(api, 'POST', '/v1/templates', { id: 'python' }, 600_000);
    assert.equal(t.status, 200, t.text);
  });

  after(() => stopServeAndCheck(proc, env, rec));

  test(`${CLIENTS} clients for ${DURATION_MS / 1000} s: no unexpected error, nothing leaked`, async () => {
    const pid = proc.child.pid as number;
    // Warm up one of each so the baseline counts long-lived descriptors (db, listeners).
    const warm = await call(api, 'POST', '/v1/fork', { template: 'python' });
    await call(api, 'DELETE', `/v1/sandboxes/${warm.json.id}`);
    const fdsBefore = openFds(pid);
    const latency = new Map<Op, number[]>();
    const errors: string[] = [];
    let throttled = 0;
    let requests = 0;
    const stopAt = Date.now() + DURATION_MS;
    const more = () => Date.now() < stopAt && requests < MAX_REQUESTS;

    const timed = async (op: Op, method: string, path: string, body?: unknown) => {
      requests++;
      const started = performance.now();
      const r = await call(api, method, path, body).catch(
        (err: Error) => ({ status: 0, json: {}, text: err.message }) as never,
      );
      const ms = performance.now() - started;
      if (r.status === 429) throttled++;
      else if (r.status !== 200) errors.push(`${op} ${path}: ${r.status} ${r.text.slice(0, 200)}`);
      else latency.set(op, [...(latency.get(op) ?? []), ms]);
      return r;
    };

    const client = async (n: number) => {
      while (more()) {
        const created = await timed('create', 'POST', '/v1/fork', { template: 'python' });
        if (created.status !== 200) continue;
        const id = created.json.id as string;
        for (let round = 0; round < 4 && more(); round++) {
          const path = `/workspace/c${n}/r${round}.txt`;
          const content = `client ${n} round ${round} `.repeat(64);
          const ex = await timed('exec', 'POST', '/v1/exec', { sandbox: id, command: `echo ${n}-${round}` });
          if (ex.status === 200) assert.equal(ex.json.stdout, `${n}-${round}\n`);
          await timed('write', 'POST', '/v1/files/write', { sandbox: id, path, content });
          const rd = await timed('read', 'POST', '/v1/files/read', { sandbox: id, path });
          if (rd.status === 200) assert.equal(rd.json.content, content, "read back another client's data");
          await timed('list', 'POST', '/v1/files/list', { sandbox: id, path: `/workspace/c${n}` });
        }
        if (n % 5 === 0 && more()) {
          const f = await timed('fork', 'POST', `/v1/sandboxes/${id}/fork`, { count: 1 });
          for (const child of (f.json.children as Array<{ id: string }> | undefined) ?? []) {
            await timed('terminate', 'DELETE', `/v1/sandboxes/${child.id}`);
          }
        }
        await timed('terminate', 'DELETE', `/v1/sandboxes/${id}`);
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
    const seconds = (performance.now() - started) / 1000;

    rec.count('load_requests', requests);
    for (const [op, samples] of latency) rec.latency(`${op} under load`, samples);
    rec.number('requests per second', requests / seconds);
    rec.number('429 responses (documented limit)', throttled);
    rec.number('unexpected errors', errors.length);
    rec.number('server RSS after the run (MiB)', rssMiB(pid));

    assert.deepEqual(errors.slice(0, 10), [], `${errors.length} unexpected errors`);
    const listed = await listedIds(api);
    assert.deepEqual(listed, [], 'sandboxes left listed after every client terminated its own');
    assert.deepEqual(inventory(env.stateDir, env.cgroupParent, listed).orphans, []);
    // Descriptors settle once idle keep-alive connections time out (node's default is 5 s).
    let fdsAfter = openFds(pid);
    for (let i = 0; i < 40 && fdsAfter - fdsBefore >= 5; i++) {
      await new Promise((r) => setTimeout(r, 250));
      fdsAfter = openFds(pid);
    }
    if (fdsAfter - fdsBefore >= 5) {
      const kinds = readdirSync(`/proc/${pid}/fd`).map((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/\d+/g, 'N');
        } catch {
          return 'gone';
        }
      });
      rec.note(`Server descriptors after load: ${[...new Set(kinds)].join(', ')}`);
    }
    rec.number('server file descriptors before / after (delta)', fdsAfter - fdsBefore);
    assert.ok(fdsAfter - fdsBefore < 5, `server fds grew from ${fdsBefore} to ${fdsAfter}`);
    rec.check(
      `${CLIENTS} clients, ${seconds.toFixed(0)} s, ${requests} requests`,
      `${errors.length} unexpected errors, ${throttled} x 429; no sandbox, root, cgroup or fd left`,
    );
  });
});
