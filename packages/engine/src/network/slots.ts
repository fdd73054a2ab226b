/**
 * What the network keeps in the state database: each sandbox's posture and, once it has an
 * interface, its link slot (addresses follow from the slot, addressing.ts), and the server's
 * IPv4 block. Tables are created here, beside the code that owns them.
 */
import { MitosError, type NetworkPosture } from '@mitos/protocol';
import type { StateDatabase } from '../state/database.js';
import { SLOTS_PER_SERVER } from './addressing.js';

export interface NetworkRow {
  sandboxId: string;
  posture: NetworkPosture;
  slot: number | null;
  /** Bumped on every posture change: connections opened under an older one are cut. */
  generation: number;
}

interface RawRow {
  sandbox_id: string;
  posture: string;
  slot: number | null;
  generation: number;
}

export class NetworkSlots {
  constructor(private readonly db: StateDatabase) {
    db.exec(`CREATE TABLE IF NOT EXISTS sandbox_network (
      sandbox_id TEXT PRIMARY KEY,
      posture TEXT NOT NULL,
      slot INTEGER UNIQUE,
      generation INTEGER NOT NULL DEFAULT 1
    )`);
    db.exec(
      'CREATE TABLE IF NOT EXISTS network_block (id INTEGER PRIMARY KEY CHECK (id = 1), v4_block INTEGER NOT NULL)',
    );
  }

  storedBlock(): number | undefined {
    const r = this.db.prepare('SELECT v4_block FROM network_block WHERE id = 1').get() as
      | { v4_block: number }
      | undefined;
    return r?.v4_block;
  }

  storeBlock(block: number): void {
    this.db.prepare('INSERT OR REPLACE INTO network_block (id, v4_block) VALUES (1, ?)').run(block);
  }

  get(sandboxId: string): NetworkRow | undefined {
    const r = this.db.prepare('SELECT * FROM sandbox_network WHERE sandbox_id = ?').get(sandboxId) as
      | RawRow
      | undefined;
    return r && toRow(r);
  }

  bySlot(slot: number): NetworkRow | undefined {
    const r = this.db.prepare('SELECT * FROM sandbox_network WHERE slot = ?').get(slot) as RawRow | undefined;
    return r && toRow(r);
  }

  all(): NetworkRow[] {
    return (this.db.prepare('SELECT * FROM sandbox_network').all() as RawRow[]).map(toRow);
  }

  /** Record (or replace) a sandbox's posture; returns the row with its new generation. */
  setPosture(sandboxId: string, posture: NetworkPosture): NetworkRow {
    this.db
      .prepare(
        `INSERT INTO sandbox_network (sandbox_id, posture) VALUES (?, ?)
         ON CONFLICT (sandbox_id) DO UPDATE SET posture = excluded.posture, generation = generation + 1`,
      )
      .run(sandboxId, JSON.stringify(posture));
    return this.get(sandboxId) as NetworkRow;
  }

  /** The sandbox's slot, taking the lowest free one the first time. */
  allocateSlot(sandboxId: string): number {
    const row = this.get(sandboxId);
    if (row?.slot != null) return row.slot;
    const used = new Set(
      (this.db.prepare('SELECT slot FROM sandbox_network WHERE slot IS NOT NULL').all() as Array<{ slot: number }>).map(
        (r) => r.slot,
      ),
    );
    for (let slot = 1; slot <= SLOTS_PER_SERVER; slot++) {
      if (used.has(slot)) continue;
      this.db.prepare('UPDATE sandbox_network SET slot = ? WHERE sandbox_id = ?').run(slot, sandboxId);
      return slot;
    }
    throw new MitosError(
      'capacity_exhausted',
      `no free network address for sandbox "${sandboxId}"`,
      { sandbox: sandboxId },
      { remediation: `terminate unused sandboxes; a server gives out at most ${SLOTS_PER_SERVER} network links` },
    );
  }

  rename(fromId: string, toId: string): void {
    this.db.prepare('UPDATE sandbox_network SET sandbox_id = ? WHERE sandbox_id = ?').run(toId, fromId);
  }

  delete(sandboxId: string): void {
    this.db.prepare('DELETE FROM sandbox_network WHERE sandbox_id = ?').run(sandboxId);
  }
}

function toRow(r: RawRow): NetworkRow {
  return {
    sandboxId: r.sandbox_id,
    posture: JSON.parse(r.posture) as NetworkPosture,
    slot: r.slot,
    generation: r.generation,
  };
}
