/**
 * One host uid/gid range per sandbox. The kernel keys keyrings, key quotas, inotify and other
 * per-user counters, signal permission and file ownership by host uid: sandboxes sharing one
 * range share all of them. Each sandbox's root is therefore a different host uid, recorded in
 * the engine's SQLite database, and claimed host-wide (a file per range under a runtime
 * directory) so several servers on one host never hand out the same range.
 *
 * Template files keep their on-disk ids (DEFAULT_UID_BASE..); the launcher shows them to the
 * sandbox through an idmapped mount, so a range never owns a file on disk and can be reused as
 * soon as the sandbox's processes are gone.
 */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MitosError } from '@mitos/protocol';
import type { StateDatabase } from '../state/database.js';
import { UID_RANGE_SIZE } from './uid-range.js';

/** Host uid of the first range: far above any real account and the template range. */
export const FIRST_SANDBOX_UID = 1_000_000_000;
/** Ranges available (about 2.1e9 ids, below the kernel's 2^32 - 1 "no id"). */
export const SANDBOX_RANGE_SLOTS = 32_768;
const DEFAULT_CLAIM_DIR = '/run/mitos/uid-ranges';

export interface UidRangeOptions {
  db: StateDatabase;
  /** Written into each claim so another server can tell a live claim from a stale one. */
  stateDir: string;
  claimDir?: string;
}

export class UidRanges {
  private readonly db: StateDatabase;
  private readonly stateDir: string;
  private readonly claimDir: string;

  constructor(options: UidRangeOptions) {
    this.db = options.db;
    this.stateDir = options.stateDir;
    this.claimDir = options.claimDir ?? process.env.MITOS_UID_CLAIM_DIR ?? DEFAULT_CLAIM_DIR;
    mkdirSync(this.claimDir, { recursive: true, mode: 0o700 });
  }

  /** The sandbox's range base, allocating one the first time. */
  allocate(sandboxId: string): number {
    const existing = this.baseOf(sandboxId);
    if (existing !== undefined) return existing;
    const mine = new Set(
      (this.db.prepare('SELECT slot FROM uid_ranges').all() as Array<{ slot: number }>).map((r) => r.slot),
    );
    for (let slot = 0; slot < SANDBOX_RANGE_SLOTS; slot++) {
      if (mine.has(slot) || !this.claim(slot)) continue;
      this.db.prepare('INSERT INTO uid_ranges (slot, sandbox_id) VALUES (?, ?)').run(slot, sandboxId);
      return baseOfSlot(slot);
    }
    throw new MitosError(
      'capacity_exhausted',
      `no free host uid range for sandbox "${sandboxId}"`,
      { sandbox: sandboxId },
      { remediation: 'terminate unused sandboxes; every running sandbox holds one range' },
    );
  }

  baseOf(sandboxId: string): number | undefined {
    const r = this.db.prepare('SELECT slot FROM uid_ranges WHERE sandbox_id = ?').get(sandboxId) as
      | { slot: number }
      | undefined;
    return r ? baseOfSlot(r.slot) : undefined;
  }

  /** A pooled sandbox taking its user's id keeps its range. */
  rename(fromId: string, toId: string): void {
    this.db.prepare('UPDATE uid_ranges SET sandbox_id = ? WHERE sandbox_id = ?').run(toId, fromId);
  }

  /** Call only once the sandbox's processes are gone and its root is removed. */
  release(sandboxId: string): void {
    const r = this.db.prepare('SELECT slot FROM uid_ranges WHERE sandbox_id = ?').get(sandboxId) as
      | { slot: number }
      | undefined;
    if (!r) return;
    rmSync(this.claimFile(r.slot), { force: true });
    this.db.prepare('DELETE FROM uid_ranges WHERE slot = ?').run(r.slot);
  }

  /** After a restart: re-assert the claims of live sandboxes, free those of the rest. */
  reconcile(live: Set<string>): void {
    const rows = this.db.prepare('SELECT slot, sandbox_id FROM uid_ranges').all() as Array<{
      slot: number;
      sandbox_id: string;
    }>;
    for (const r of rows) {
      if (live.has(r.sandbox_id)) writeFileSync(this.claimFile(r.slot), this.stateDir, { mode: 0o600 });
      else this.release(r.sandbox_id);
    }
  }

  private claimFile(slot: number): string {
    return join(this.claimDir, String(slot));
  }

  /** Take the host-wide claim on a slot; false when a live server holds it. */
  private claim(slot: number): boolean {
    const file = this.claimFile(slot);
    try {
      writeFileSync(file, this.stateDir, { flag: 'wx', mode: 0o600 });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    // Our own stale claim (its row is gone), or one whose server's state dir no longer exists.
    let owner = '';
    try {
      owner = readFileSync(file, 'utf8');
    } catch {
      return false;
    }
    if (owner !== this.stateDir && stateDirExists(owner)) return false;
    writeFileSync(file, this.stateDir, { mode: 0o600 });
    return true;
  }
}

function stateDirExists(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

export function baseOfSlot(slot: number): number {
  return FIRST_SANDBOX_UID + slot * UID_RANGE_SIZE;
}
