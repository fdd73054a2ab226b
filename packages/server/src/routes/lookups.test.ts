/**
 * Every request that acts on one sandbox reads its record once: the engine call's own lookup,
 * with the engine's rule, and no second read by the route first. The fake engine counts reads
 * the way the host core makes them (one per get() and one per call naming a sandbox).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MitosError } from '@mitos/protocol';
import { result } from '@mitos/testkit';
import { makeTestApp, type TestApp, withSandbox } from '@mitos/testkit/server';
import { instanceNonce, PreviewSigner } from '../preview/token.js';

const SECRET = 'lookup-test-secret-0123456789';

async function lookupsOf(t: TestApp, send: () => Promise<{ status: number }>, status = 200): Promise<number> {
  const before = t.engine.lookups;
  const res = await send();
  assert.equal(res.status, status);
  return t.engine.lookups - before;
}

describe('one sandbox lookup per request', () => {
  it('on the record, exec, streams, files, processes, lifecycle, network, forward, preview, live fork and terminate', async () => {
    const t = makeTestApp({ previewSecret: SECRET });
    await withSandbox(t);
    t.engine.onExec = (_cmd, options) => {
      options.onStdout?.(Buffer.from('out\n'));
      return result(0, 'out\n', '');
    };
    const stream = async (path: string, body: object) => {
      const res = await t.app.request(path, { method: 'POST', body: JSON.stringify(body) });
      await res.text();
      return res;
    };
    const signer = new PreviewSigner(Buffer.from(SECRET));
    // Nothing listens inside the fake sandbox: the proxy's answer is 404, after its one lookup.
    t.engine.onConnectPort = async () => {
      throw new MitosError('not_found', 'nothing listening');
    };
    const token = signer.sign({
      sandbox: 'sb-1',
      port: 3000,
      expiresUnix: Math.floor(Date.now() / 1000) + 600,
      instance: instanceNonce(t.engine.get('sb-1') as NonNullable<ReturnType<typeof t.engine.get>>),
    });

    let forwarded = '';
    const counted: Array<[string, () => Promise<{ status: number }>, number?]> = [
      ['sandbox record', () => t.call('/v1/sandboxes/sb-1')],
      ['exec', () => t.call('/v1/exec', { sandbox: 'sb-1', command: 'x' })],
      ['exec stream', () => stream('/v1/exec/stream', { sandbox: 'sb-1', command: 'x' })],
      ['run_code stream', () => stream('/v1/run_code/stream', { sandbox: 'sb-1', code: '1' })],
      ['files write', () => t.call('/v1/files/write', { sandbox: 'sb-1', path: '/a', content: 'x' })],
      ['files read', () => t.call('/v1/files/read', { sandbox: 'sb-1', path: '/a' })],
      ['process start', () => t.call('/v1/processes', { sandbox: 'sb-1', command: 'sleep 9' })],
      ['process list', () => t.call('/v1/processes?sandbox=sb-1')],
      ['set_timeout', () => t.call('/v1/set_timeout', { sandbox: 'sb-1', timeout_seconds: 60 })],
      ['pause', () => t.call('/v1/pause', { sandbox: 'sb-1' })],
      ['resume', () => t.call('/v1/resume', { sandbox: 'sb-1' })],
      ['network read', () => t.call('/v1/sandboxes/sb-1/network')],
      ['network change', () => t.call('/v1/sandboxes/sb-1/network', { egress: 'deny' }, { method: 'PUT' })],
      [
        'forward open',
        async () => {
          const res = await t.call('/v1/sandboxes/sb-1/forward', { guest_port: 8000 });
          forwarded = String(res.body.host).split(':')[1] ?? '';
          return res;
        },
      ],
      ['forward list', () => t.call('/v1/sandboxes/sb-1/forward')],
      ['forward close', () => t.call(`/v1/sandboxes/sb-1/forward/${forwarded}`, undefined, { method: 'DELETE' })],
      ['preview mint', () => t.call('/v1/preview', { sandbox: 'sb-1', port: 3000 })],
      ['preview proxy', () => t.call(`/preview/${token}/`), 404],
      ['live fork', () => t.call('/v1/sandboxes/sb-1/fork', { count: 1 })],
      ['terminate', () => t.call('/v1/sandboxes/sb-1', undefined, { method: 'DELETE' })],
    ];
    const reads = [];
    for (const [name, send, status] of counted) reads.push([name, await lookupsOf(t, send, status)]);
    assert.deepEqual(
      reads,
      counted.map(([name]) => [name, 1]),
    );
  });

  it('refuses with the engine rule before a stream starts: 404, 409, then 429 after the lookup', async () => {
    const t = makeTestApp({ maxStreamsPerSandbox: 1 });
    await withSandbox(t);
    const post = (sandbox: string) => t.call('/v1/exec/stream', { sandbox, command: 'x' });
    const unknown = await post('ghost');
    assert.deepEqual([unknown.status, unknown.body.error.code], [404, 'not_found']);
    await t.engine.pause('sb-1');
    const paused = await post('sb-1');
    assert.deepEqual([paused.status, paused.body.error.code], [409, 'sandbox_not_running']);
    assert.equal(t.engine.execCalls.length, 0);
    await t.engine.resume('sb-1');
    // One slot: a command that holds it open makes the next request a 429, and runs nothing.
    let release = () => {};
    t.engine.onExec = () => new Promise((resolve) => (release = () => resolve(result(0, '', ''))));
    const held = await t.app.request('/v1/exec/stream', {
      method: 'POST',
      body: JSON.stringify({ sandbox: 'sb-1', command: 'hold' }),
    });
    assert.equal(held.status, 200);
    const capped = await post('sb-1');
    assert.deepEqual([capped.status, capped.body.error.code], [429, 'too_many_streams']);
    assert.deepEqual(
      t.engine.execCalls.map((call) => call.command),
      ['hold'],
    );
    release();
    await held.text();
  });
});
