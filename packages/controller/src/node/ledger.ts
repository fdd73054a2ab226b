/**
 * What a node knows about its sandboxes beyond the engine: who each one belongs to (a pool's
 * warm set, a claim, a fork) and the digest of its bearer token. Kept in one JSON file in the
 * state directory, so a restarted daemon still serves the sandboxes the engine reattaches.
 * Only SHA-256 digests of tokens are stored; the tokens themselves live in Kubernetes Secrets.
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

export type SandboxOwner =
  | { kind: 'warm'; namespace: string; pool: string }
  | { kind: 'claim'; namespace: string; pool: string; claim: string }
  | { kind: 'fork'; namespace: string; fork: string; source: string };

export interface LedgerEntry {
  id: string;
  owner: SandboxOwner;
  image: string;
  createdAt: string;
  /** Hex SHA-256 of the bearer token; absent for warm sandboxes nobody may call yet. */
  tokenDigest?: string;
}

// Compared against when an id is unknown, so a miss costs the same as a mismatch.
const NO_DIGEST = Buffer.alloc(32);

export class SandboxLedger {
  readonly #entries = new Map<string, LedgerEntry>();

  private constructor(private readonly path: string | undefined) {}

  /** Loads `path` if it exists; `undefined` keeps the ledger in memory only (tests). */
  static open(path: string | undefined): SandboxLedger {
    const ledger = new SandboxLedger(path);
    if (path && existsSync(path)) {
      const saved = JSON.parse(readFileSync(path, 'utf8')) as { sandboxes?: LedgerEntry[] };
      for (const entry of saved.sandboxes ?? []) ledger.#entries.set(entry.id, entry);
    }
    return ledger;
  }

  get(id: string): LedgerEntry | undefined {
    return this.#entries.get(id);
  }

  entries(): LedgerEntry[] {
    return [...this.#entries.values()];
  }

  put(entry: LedgerEntry): void {
    this.#entries.set(entry.id, entry);
    this.#save();
  }

  /** Replaces the owner and token of an existing entry. */
  assign(id: string, owner: SandboxOwner, token: string): LedgerEntry {
    const entry = this.#entries.get(id);
    if (!entry) throw new Error(`sandbox ${id} is not in the ledger`);
    const updated = { ...entry, owner, tokenDigest: digestHex(token) };
    this.#entries.set(id, updated);
    this.#save();
    return updated;
  }

  remove(id: string): boolean {
    const had = this.#entries.delete(id);
    if (had) this.#save();
    return had;
  }

  /** Constant-time: the work done does not depend on where (or whether) the token differs. */
  verify(sandboxId: string, token: string): boolean {
    const stored = this.#entries.get(sandboxId)?.tokenDigest;
    const expected = stored ? Buffer.from(stored, 'hex') : NO_DIGEST;
    const presented = createHash('sha256').update(token, 'utf8').digest();
    const equal = expected.length === presented.length && timingSafeEqual(expected, presented);
    return stored !== undefined && equal;
  }

  #save(): void {
    if (!this.path) return;
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify({ sandboxes: this.entries() }, null, 2), { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}

export function digestHex(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
