import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EndReason } from '../engine.js';
import type { SandboxRow } from '../state/store.js';
import { SandboxEndings } from './endings.js';

/** A sandbox table of one state per id; `end` removes the row, as teardown does. */
function fixture(states: Record<string, SandboxRow['state']>, budgetMs?: number, teardown?: Promise<void>) {
  const rows = new Map(Object.entries(states));
  const log: string[] = [];
  const endings = new SandboxEndings(
    {
      row: (id) => (rows.has(id) ? ({ id, state: rows.get(id) } as SandboxRow) : undefined),
      resume: async (id) => {
        log.push(`resume ${id}`);
        rows.set(id, 'running');
      },
      end: async (id, _row, onTeardown) => {
        log.push(`end ${id}`);
        onTeardown?.();
        if (teardown) {
          await teardown;
          log.push(`gone ${id}`);
        }
        return rows.delete(id);
      },
      log: (_level, msg) => log.push(`log ${msg}`),
    },
    budgetMs,
  );
  return { endings, log, rows };
}

describe('sandbox endings', () => {
  test('hooks run before the sandbox ends, with the reason, while it is still there', async () => {
    const { endings, log, rows } = fixture({ a: 'running' });
    endings.on(async (id, reason) => {
      log.push(`hook ${id} ${reason} ${rows.get(id)}`);
    });
    assert.equal(await endings.end('a', 'deadline'), true);
    assert.deepEqual(log, ['hook a deadline running', 'end a']);
  });

  test('concurrent ends of one sandbox share one run of the hooks', async () => {
    const { endings, log } = fixture({ a: 'running' });
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    endings.on(async (id, reason) => {
      log.push(`hook ${id} ${reason}`);
      await gate;
    });
    const first = endings.end('a', 'terminated');
    const second = endings.end('a', 'deadline');
    release();
    assert.deepEqual(await Promise.all([first, second]), [true, true]);
    assert.deepEqual(log, ['hook a terminated', 'end a']);
  });

  test('onTeardown is told after the hooks once the teardown began; settle waits for the rest', async () => {
    let finish = () => {};
    const teardown = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const { endings, log } = fixture({ a: 'running' }, undefined, teardown);
    endings.on(async (id) => {
      log.push(`hook ${id}`);
    });
    let begun = () => {};
    const told = new Promise<void>((resolve) => {
      begun = resolve;
    });
    const ending = endings.end('a', 'terminated', undefined, () => {
      log.push('told');
      begun();
    });
    await told;
    assert.deepEqual(log, ['hook a', 'end a', 'told']);
    let settled = false;
    const settling = endings.settle().then(() => {
      settled = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'settle waits for the teardown under way');
    finish();
    await settling;
    assert.equal(await ending, true);
    assert.deepEqual(log, ['hook a', 'end a', 'told', 'gone a']);
  });

  test('a paused sandbox is resumed for the hooks, except a lost one', async () => {
    const { endings, log } = fixture({ p: 'paused', q: 'paused' });
    const seen: Array<[string, EndReason]> = [];
    endings.on(async (id, reason) => {
      seen.push([id, reason]);
    });
    await endings.end('p', 'deadline');
    await endings.end('q', 'lost');
    assert.deepEqual(log, ['resume p', 'end p', 'end q']);
    assert.deepEqual(seen, [
      ['p', 'deadline'],
      ['q', 'lost'],
    ]);
  });

  test('a failing or never-settling hook does not keep the sandbox alive', async () => {
    const { endings, log } = fixture({ a: 'running', b: 'running' }, 10);
    const off = endings.on(async () => {
      throw new Error('commit failed');
    });
    assert.equal(await endings.end('a', 'terminated'), true);
    off();
    endings.on(() => new Promise<void>(() => {}));
    assert.equal(await endings.end('b', 'deadline'), true);
    assert.deepEqual(log, [
      'log an ending hook failed; ending anyway',
      'end a',
      'log an ending hook ran over 10 ms; ending anyway',
      'end b',
    ]);
  });

  test('nothing runs, not even the teardown, for a sandbox that is not there or still being made', async () => {
    const { endings, log } = fixture({ c: 'creating' });
    endings.on(async (id) => {
      log.push(`hook ${id}`);
    });
    const before = async (row: SandboxRow) => {
      log.push(`before ${row.id}`);
    };
    assert.equal(await endings.end('missing', 'terminated', before), false);
    assert.equal(await endings.end('c', 'terminated'), false);
    assert.deepEqual(log, []);
  });

  test('beforeEnd runs once the sandbox is found, before the hooks; a throw from it ends nothing', async () => {
    const { endings, log, rows } = fixture({ a: 'running', b: 'running' });
    endings.on(async (id) => {
      log.push(`hook ${id}`);
    });
    const before = async (row: SandboxRow) => {
      log.push(`before ${row.id}`);
      if (row.id === 'b') throw new Error('refused');
    };
    assert.equal(await endings.end('a', 'terminated', before), true);
    await assert.rejects(endings.end('b', 'terminated', before), /refused/);
    assert.deepEqual(log, ['before a', 'hook a', 'end a', 'before b']);
    assert.equal(rows.get('b'), 'running');
  });

  test('with nothing to run first, the teardown gets the row the end just read', async () => {
    const ended: Array<SandboxRow | undefined> = [];
    const row = { id: 'a', state: 'running' } as SandboxRow;
    const endings = new SandboxEndings({
      row: () => row,
      resume: async () => {},
      end: async (_id, read) => {
        ended.push(read);
        return true;
      },
      log: () => {},
    });
    assert.equal(await endings.end('a', 'terminated'), true);
    assert.deepEqual(ended, [row]);
  });
});
