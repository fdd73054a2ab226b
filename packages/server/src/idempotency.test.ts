import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { IDEMPOTENCY_TTL_MS, IdempotencyStore, idempotencyKeyFrom, runIdempotent } from './idempotency.js';

function store(now = { t: 1_000_000 }) {
  const db = new Database(':memory:');
  return { db, now, store: new IdempotencyStore(db, { now: () => now.t }) };
}

const exists = (ids: Set<string>) => (id: string) => (ids.has(id) ? { id } : undefined);

describe('IdempotencyStore', () => {
  it('reserves an unknown key, then replays the bound id while it exists', () => {
    const { store: s } = store();
    const live = new Set<string>();
    const first = s.reserve('k', 'fork', exists(live));
    assert.equal(first.outcome, 'reserved');
    if (first.outcome !== 'reserved') return;
    s.complete(first.reservation, 'sb-1');
    live.add('sb-1');
    assert.deepEqual(s.reserve('k', 'fork', exists(live)), { outcome: 'replay', value: { id: 'sb-1' } });
  });

  it('refuses a key that is in flight with idempotency_in_flight (409)', () => {
    const { store: s } = store();
    s.reserve('k', 'fork', exists(new Set()));
    assert.throws(() => s.reserve('k', 'fork', exists(new Set())), { code: 'idempotency_in_flight', status: 409 });
  });

  it('frees a released key', () => {
    const { store: s } = store();
    const r = s.reserve('k', 'template', exists(new Set()));
    if (r.outcome === 'reserved') s.release(r.reservation);
    assert.equal(s.reserve('k', 'template', exists(new Set())).outcome, 'reserved');
  });

  it('reserves again when the bound resource is gone, an expiry passed, or the kind differs', () => {
    const { store: s, now } = store();
    const live = new Set(['sb-1']);
    const bind = (key: string, kind: 'fork' | 'template') => {
      const r = s.reserve(key, kind, exists(live));
      assert.equal(r.outcome, 'reserved');
      if (r.outcome === 'reserved') s.complete(r.reservation, 'sb-1');
    };
    bind('gone', 'fork');
    live.delete('sb-1');
    assert.equal(s.reserve('gone', 'fork', exists(live)).outcome, 'reserved');

    live.add('sb-1');
    bind('old', 'fork');
    now.t += IDEMPOTENCY_TTL_MS + 1;
    assert.equal(s.reserve('old', 'fork', exists(live)).outcome, 'reserved');

    bind('kind', 'template');
    assert.equal(s.reserve('kind', 'fork', exists(live)).outcome, 'reserved');
  });

  it('does not let a stale reservation owner release or bind a newer reservation', () => {
    const { store: s, now } = store();
    const old = s.reserve('k', 'fork', exists(new Set()));
    now.t += IDEMPOTENCY_TTL_MS + 1;
    const fresh = s.reserve('k', 'fork', exists(new Set()));
    assert.equal(fresh.outcome, 'reserved');
    if (old.outcome === 'reserved') s.release(old.reservation);
    assert.throws(() => s.reserve('k', 'fork', exists(new Set())), { code: 'idempotency_in_flight' });
  });

  it('clears reservations left in flight by a previous process at startup, keeps bound keys', () => {
    const { db, now, store: s } = store();
    s.reserve('busy', 'fork', exists(new Set()));
    const done = s.reserve('done', 'fork', exists(new Set()));
    if (done.outcome === 'reserved') s.complete(done.reservation, 'sb-1');
    const restarted = new IdempotencyStore(db, { now: () => now.t });
    assert.equal(restarted.reserve('busy', 'fork', exists(new Set())).outcome, 'reserved');
    assert.equal(restarted.reserve('done', 'fork', exists(new Set(['sb-1']))).outcome, 'replay');
  });
});

describe('runIdempotent', () => {
  it('creates without a key every time', async () => {
    const { store: s } = store();
    let n = 0;
    const op = { lookup: () => undefined, create: async () => ({ id: `x${++n}`, value: n }) };
    assert.equal(await runIdempotent(s, undefined, 'fork', op), 1);
    assert.equal(await runIdempotent(s, undefined, 'fork', op), 2);
  });

  it('releases the key when create throws', async () => {
    const { store: s } = store();
    await assert.rejects(
      runIdempotent(s, 'k', 'fork', {
        lookup: () => undefined,
        create: async () => {
          throw new Error('boom');
        },
      }),
    );
    assert.equal(s.reserve('k', 'fork', () => undefined).outcome, 'reserved');
  });
});

describe('idempotencyKeyFrom', () => {
  it('treats absent and empty as no key and rejects unprintable or overlong keys', () => {
    assert.equal(idempotencyKeyFrom(undefined), undefined);
    assert.equal(idempotencyKeyFrom(''), undefined);
    assert.equal(idempotencyKeyFrom('0123abcd'), '0123abcd');
    assert.throws(() => idempotencyKeyFrom('a b'), { code: 'invalid_json' });
    assert.throws(() => idempotencyKeyFrom('k'.repeat(256)), { code: 'invalid_json' });
  });
});
