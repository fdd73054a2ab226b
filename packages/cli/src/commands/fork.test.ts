import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { useFakeServer } from '../test-support/fake-server.js';

const { fake, cli } = useFakeServer({ prefix: 'mitos-cli-fork-', sandboxes: { 'sb-1': 'python' } });

beforeEach(() => {
  fake.override = (req) => {
    if (req.url !== '/v1/sandboxes/sb-1/fork') return undefined;
    const count = Number(req.body.count);
    const ids = (req.body.ids as string[] | undefined) ?? Array.from({ length: count }, (_, i) => `sb-1-f${i}`);
    const rec = (id: string) => ({ id, template_id: 'python', endpoint: 'http://x', fork_time_ms: 2 });
    return {
      json: {
        parent: rec('sb-1'),
        children: ids.map(rec),
        fork_time_ms: 4,
        carried: {
          filesystem: true,
          interpreter: false,
          interpreter_skipped: [],
          processes: false,
          processes_not_carried: [{ pid: 7, command: 'sleep 60', reason: 'not asked for (processes: "none")' }],
        },
      },
    };
  };
});

describe('fork', () => {
  test('prints one child id per line', async () => {
    const r = await cli(['fork', 'sb-1', '--count', '3']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'sb-1-f0\nsb-1-f1\nsb-1-f2\n');
    assert.deepEqual(fake.seen.find((s) => s.url.endsWith('/fork'))?.body, { count: 3 });
  });

  test('--json prints the full report; --id names the children', async () => {
    const r = await cli(['--json', 'fork', 'sb-1', '--id', 'kid-a']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { children: { id: string }[]; carried: unknown; forkTimeMs: number };
    assert.deepEqual(
      doc.children.map((c) => c.id),
      ['kid-a'],
    );
    assert.equal(doc.forkTimeMs, 4);
    assert.deepEqual(doc.carried, {
      filesystem: true,
      interpreter: false,
      interpreterSkipped: [],
      processes: false,
      processesNotCarried: [{ pid: 7, command: 'sleep 60', reason: 'not asked for (processes: "none")' }],
      connections: false,
    });
  });

  test('--processes reaches the server; what the children lack goes to stderr', async () => {
    const r = await cli(['fork', 'sb-1', '--processes', 'none']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'sb-1-f0\n');
    assert.match(r.stderr, /not carried: pid 7 sleep 60/);
    assert.deepEqual(fake.seen.findLast((s) => s.url.endsWith('/fork'))?.body, { count: 1, processes: 'none' });
    const bad = await cli(['fork', 'sb-1', '--processes', 'some']);
    assert.notEqual(bad.code, 0);
  });

  test('a --count out of range is a usage error', async () => {
    const r = await cli(['fork', 'sb-1', '--count', '65']);
    assert.equal(r.code, 2);
  });
});
