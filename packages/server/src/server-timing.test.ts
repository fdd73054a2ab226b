import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { result } from '@mitos/testkit';
import { makeTestApp, withSandbox } from '@mitos/testkit/server';

/** The header's metrics as name -> duration (ms). */
function metrics(header: string | null): Map<string, number> {
  assert.ok(header, 'Server-Timing header present');
  return new Map(
    header.split(',').map((part) => {
      const [name, dur] = part.trim().split(';dur=');
      assert.ok(name && dur !== undefined && Number.isFinite(Number(dur)), `well-formed metric: ${part}`);
      return [name, Number(dur)];
    }),
  );
}

describe('Server-Timing', () => {
  it('splits an exec into parse, engine and total', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    let engineStarted = false;
    t.engine.onExec = async () => {
      engineStarted = true;
      await new Promise((resolve) => setImmediate(resolve));
      return result(0, '', '');
    };
    const res = await t.call('/v1/exec', { sandbox: 'sb-1', command: 'true' });
    assert.equal(res.status, 200);
    assert.ok(engineStarted);
    const m = metrics(res.headers.get('Server-Timing'));
    assert.deepEqual([...m.keys()], ['parse', 'engine', 'total']);
    // The phases are parts of the whole.
    assert.ok((m.get('parse') ?? 0) + (m.get('engine') ?? 0) <= (m.get('total') ?? 0) + 0.01);
  });

  it('names the lookup where a route reads the sandbox itself', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    const res = await t.call('/v1/sandboxes/sb-1');
    assert.equal(res.status, 200);
    assert.deepEqual([...metrics(res.headers.get('Server-Timing')).keys()], ['lookup', 'total']);
  });

  it('is on error responses too', async () => {
    const t = makeTestApp();
    const res = await t.call('/v1/exec', { sandbox: 'sb-none', command: 'true' });
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'not_found');
    assert.ok(metrics(res.headers.get('Server-Timing')).has('total'));
  });
});
