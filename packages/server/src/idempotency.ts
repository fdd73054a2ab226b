/**
 * Idempotency-Key records for POST /v1/templates, POST /v1/fork (wire-v1.md section 5) and
 * POST /v1/sandboxes/{id}/fork, kept in SQLite so a retry after a server restart still replays.
 *
 * A key is first reserved ("in flight"), then bound to the id it created ("done"), or released
 * when the create failed, so a failed create never consumes the key. A done key replays the
 * bound resource while it exists; once it is gone the key is free to create again. Records
 * expire 24 h after they were written. Keys of another kind count as unknown.
 */
import { randomBytes } from 'node:crypto';
import { MitosError } from '@mitos/protocol';
import type { Database } from 'better-sqlite3';

export type IdempotencyKind = 'template' | 'fork' | 'live-fork';

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const PRUNE_INTERVAL_MS = 60 * 1000;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export interface Reservation {
  readonly key: string;
  /** Distinguishes this reservation from a later one for the same key (after expiry). */
  readonly owner: string;
}

export type ReserveOutcome<T> = { outcome: 'reserved'; reservation: Reservation } | { outcome: 'replay'; value: T };

interface Row {
  kind: string;
  state: 'in_flight' | 'done';
  resource_id: string | null;
  recorded_at: number;
}

export interface IdempotencyStoreOptions {
  ttlMs?: number;
  /** Injected clock (unix ms) so expiry is testable without waiting a day. */
  now?: () => number;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS idempotency_keys (
  key TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
  resource_id TEXT,
  owner TEXT NOT NULL,
  recorded_at INTEGER NOT NULL
)`;

function prepare(db: Database) {
  return {
    select: db.prepare('SELECT kind, state, resource_id, recorded_at FROM idempotency_keys WHERE key = ?'),
    reserve: db.prepare(
      `INSERT INTO idempotency_keys (key, kind, state, resource_id, owner, recorded_at)
       VALUES (?, ?, 'in_flight', NULL, ?, ?)
       ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, state = 'in_flight', resource_id = NULL,
         owner = excluded.owner, recorded_at = excluded.recorded_at`,
    ),
    complete: db.prepare(
      `UPDATE idempotency_keys SET state = 'done', resource_id = ?, recorded_at = ? WHERE key = ? AND owner = ?`,
    ),
    release: db.prepare('DELETE FROM idempotency_keys WHERE key = ? AND owner = ?'),
    prune: db.prepare('DELETE FROM idempotency_keys WHERE recorded_at < ?'),
    clearInFlight: db.prepare(`DELETE FROM idempotency_keys WHERE state = 'in_flight'`),
  };
}

export class IdempotencyStore {
  readonly #db: Database;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #sql: ReturnType<typeof prepare>;
  #lastPrune = 0;

  constructor(db: Database, options: IdempotencyStoreOptions = {}) {
    this.#db = db;
    this.#ttlMs = options.ttlMs ?? IDEMPOTENCY_TTL_MS;
    this.#now = options.now ?? Date.now;
    db.exec(SCHEMA);
    this.#sql = prepare(db);
    // A reservation still in flight at startup belongs to a server that died mid-create; its
    // create can never complete, and keeping it would make every retry a 409 for a day.
    this.#sql.clearInFlight.run();
    this.#prune();
  }

  /**
   * Atomically looks the key up and, unless it replays, reserves it for this request.
   * `lookup` returns the current record of a bound id, or undefined when it no longer exists.
   * Throws idempotency_in_flight (409) while another request holds the key.
   */
  reserve<T>(key: string, kind: IdempotencyKind, lookup: (id: string) => T | undefined): ReserveOutcome<T> {
    this.#maybePrune();
    const run = this.#db.transaction((): ReserveOutcome<T> => {
      const now = this.#now();
      const row = this.#sql.select.get(key) as Row | undefined;
      const live = row !== undefined && row.kind === kind && now - row.recorded_at <= this.#ttlMs;
      if (live && row.state === 'in_flight') {
        throw new MitosError(
          'idempotency_in_flight',
          `a ${kind} request with this Idempotency-Key is still in progress`,
        );
      }
      if (live && row.state === 'done' && row.resource_id !== null) {
        const value = lookup(row.resource_id);
        if (value !== undefined) return { outcome: 'replay', value };
      }
      const owner = randomBytes(8).toString('hex');
      this.#sql.reserve.run(key, kind, owner, now);
      return { outcome: 'reserved', reservation: { key, owner } };
    });
    return run.immediate();
  }

  /** Binds the key to the id its request created. */
  complete(reservation: Reservation, resourceId: string): void {
    this.#sql.complete.run(resourceId, this.#now(), reservation.key, reservation.owner);
  }

  /** Forgets a reservation whose create failed, so the key can be retried. */
  release(reservation: Reservation): void {
    this.#sql.release.run(reservation.key, reservation.owner);
  }

  #maybePrune(): void {
    if (this.#now() - this.#lastPrune >= PRUNE_INTERVAL_MS) this.#prune();
  }

  #prune(): void {
    this.#lastPrune = this.#now();
    this.#sql.prune.run(this.#lastPrune - this.#ttlMs);
  }
}

/** The header value, or undefined when absent or empty (no idempotency then). */
export function idempotencyKeyFrom(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined;
  if (!KEY_PATTERN.test(header)) {
    throw new MitosError('invalid_json', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
  }
  return header;
}

export interface IdempotentCreate<T> {
  /** The current record of a previously created id, or undefined if it is gone. */
  lookup(id: string): T | undefined;
  /** Creates the resource; called at most once, only when nothing is replayed. */
  create(): Promise<{ id: string; value: T }>;
}

/** Runs `create` under the key (if any): replays, or reserves, creates, binds; releases on failure. */
export async function runIdempotent<T>(
  store: IdempotencyStore,
  key: string | undefined,
  kind: IdempotencyKind,
  op: IdempotentCreate<T>,
): Promise<T> {
  if (key === undefined) return (await op.create()).value;
  const reserved = store.reserve(key, kind, op.lookup);
  if (reserved.outcome === 'replay') return reserved.value;
  try {
    const { id, value } = await op.create();
    store.complete(reserved.reservation, id);
    return value;
  } catch (err) {
    store.release(reserved.reservation);
    throw err;
  }
}
