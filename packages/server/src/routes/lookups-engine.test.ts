/**
 * One read of a sandbox's row per request, counted in the real engine's state: the Linux
 * engine's SQLite store, each read of the row (the record, or its deadline column) made while
 * serving one request. The fake engine's count (lookups.test.ts) only mirrors the host's rule;
 * this holds the host itself to it. The E2B lifecycle routes are held to it too.
 */
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { after, before, describe, it } from 'node:test';
import type { LinuxEngine } from '@mitos/engine';
import { type TestEngineEnv, testEngineEnv } from '@mitos/testkit';
import { makeTestApp, type TestApp } from '@mitos/testkit/server';

type RowReads = Record<'sandbox' | 'deadline', (id: string) => unknown>;

describe('one read of the sandbox row per request, on the real engine', () => {
  let env: TestEngineEnv;
  let engine: LinuxEngine;
  let t: TestApp;
  const request = new AsyncLocalStorage<{ reads: number }>();

  before(async () => {
    env = testEngineEnv();
    engine = await env.open();
    await engine.ensureTemplate({ id: 'base' });
    // Count every read of a sandbox's row the store serves while one request is handled.
    const store = (engine as unknown as { store: RowReads }).store;
    for (const name of ['sandbox', 'deadline'] as const) {
      const read = store[name].bind(store);
      store[name] = (id) => {
        const counter = request.getStore();
        if (counter) counter.reads += 1;
        return read(id);
      };
    }
    t = makeTestApp({ engine: engine as unknown as TestApp['engine'] });
  });
  after(() => env.cleanup());

  it('on the record, exec, a stream, files, processes, lifecycle, network and terminate', async () => {
    const created = await t.call('/v1/fork', { template: 'base', id: 'lk-1' });
    assert.equal(created.status, 200);
    const readsOf = async (send: () => Promise<{ status: number }>) => {
      const counter = { reads: 0 };
      const res = await request.run(counter, send);
      assert.equal(res.status, 200);
      return counter.reads;
    };
    const counted: Array<[string, () => Promise<{ status: number }>]> = [
      ['sandbox record', () => t.call('/v1/sandboxes/lk-1')],
      ['exec', () => t.call('/v1/exec', { sandbox: 'lk-1', command: 'echo hi' })],
      ['exec stream', () => t.call('/v1/exec/stream', { sandbox: 'lk-1', command: 'echo hi' })],
      ['files write', () => t.call('/v1/files/write', { sandbox: 'lk-1', path: '/tmp/a', content: 'x' })],
      ['files read', () => t.call('/v1/files/read', { sandbox: 'lk-1', path: '/tmp/a' })],
      ['process list', () => t.call('/v1/processes?sandbox=lk-1')],
      ['set_timeout', () => t.call('/v1/set_timeout', { sandbox: 'lk-1', timeout_seconds: 600 })],
      ['pause', () => t.call('/v1/pause', { sandbox: 'lk-1' })],
      ['resume', () => t.call('/v1/resume', { sandbox: 'lk-1' })],
      ['network read', () => t.call('/v1/sandboxes/lk-1/network')],
      ['terminate', () => t.call('/v1/sandboxes/lk-1', undefined, { method: 'DELETE' })],
    ];
    const reads = [];
    for (const [name, send] of counted) reads.push([name, await readsOf(send)]);
    assert.deepEqual(
      reads,
      counted.map(([name]) => [name, 1]),
    );
    assert.equal(engine.get('lk-1'), undefined);
  });

  it("on E2B's timeout, refresh, pause, resume, connect, metrics and port proxy", async () => {
    const headers = { 'X-API-KEY': `e2b_${'c'.repeat(40)}` };
    const created = await t.call('/e2b/sandboxes', { templateID: 'base', timeout: 60 }, { headers });
    assert.equal(created.status, 201, created.text);
    const id = created.body.sandboxID as string;
    const readsOf = async (send: () => Promise<{ status: number }>, status: number) => {
      const counter = { reads: 0 };
      const res = await request.run(counter, send);
      assert.equal(res.status, status);
      return counter.reads;
    };
    const at = (path: string) => `/e2b/sandboxes/${id}${path}`;
    const counted: Array<[string, () => Promise<{ status: number }>, number]> = [
      ['timeout', () => t.call(at('/timeout'), { timeout: 600 }, { headers }), 204],
      ['refresh', () => t.call(at('/refreshes'), { duration: 60 }, { headers }), 204],
      ['metrics', () => t.call(at('/metrics'), undefined, { headers }), 200],
      [
        'port proxy',
        () => t.call('/e2b/x', undefined, { headers: { 'E2b-Sandbox-Id': id, 'E2b-Sandbox-Port': '8000' } }),
        502,
      ],
      ['pause', () => t.call(at('/pause'), {}, { headers }), 204],
      ['pause again (409)', () => t.call(at('/pause'), {}, { headers }), 409],
      ['timeout while paused', () => t.call(at('/timeout'), { timeout: 600 }, { headers }), 204],
      ['resume', () => t.call(at('/resume'), { timeout: 600 }, { headers }), 201],
      ['connect (running)', () => t.call(at('/connect'), { timeout: 900 }, { headers }), 200],
      ['pause', () => t.call(at('/pause'), {}, { headers }), 204],
      ['connect (paused)', () => t.call(`/e2b/v2/sandboxes/${id}/connect`, { timeout: 900 }, { headers }), 201],
    ];
    const reads = [];
    for (const [name, send, status] of counted) reads.push([name, await readsOf(send, status)]);
    assert.deepEqual(
      reads,
      counted.map(([name]) => [name, 1]),
    );
    // envd traffic keeps its gate (envdCall: running, for calls that touch no engine state of their
    // own), then the call's own read: two, and no more (metrics used to read a third time).
    const envd = { 'E2b-Sandbox-Id': id, 'X-Access-Token': created.body.envdAccessToken as string };
    assert.equal(await readsOf(() => t.call('/e2b/metrics', undefined, { headers: envd }), 200), 2);
    // What the one read decided: a paused sandbox took no deadline, connect resumed and extended.
    assert.equal(engine.get(id)?.state, 'running');
    const left = (engine.getDeadline(id)?.getTime() ?? 0) - Date.now();
    assert.ok(left > 800_000 && left <= 900_000, `${left} ms left`);
    assert.equal((await t.call(`/e2b/sandboxes/${id}`, undefined, { headers, method: 'DELETE' })).status, 204);
  });
});
