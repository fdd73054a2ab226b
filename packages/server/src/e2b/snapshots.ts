/**
 * E2B snapshots (`sandbox.createSnapshot()`, `Sandbox.listSnapshots`, `Sandbox.deleteSnapshot`,
 * `Sandbox.create(snapshotId)`) on the engine's live fork: a snapshot is a fork child of the
 * sandbox (taken with the source held still, as E2B pauses it) that the E2B surface keeps out of
 * every listing and never times out; each sandbox started from the snapshot is a fork of that
 * child. So a snapshot outlives its source, as E2B's does. What it carries is what our fork
 * carries: the files and interpreter state, not the running processes (docs/e2b.md). A paused
 * sandbox can be snapshotted too, as E2B allows: it is resumed for the copy and paused again.
 */
import type { Engine, SandboxInfo } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import type { Database } from 'better-sqlite3';
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { Account, Accounts } from './accounts.js';
import { type E2bContext, ownedSandbox } from './context.js';
import { newE2bSandboxId } from './ids.js';
import { offsetPage } from './paging.js';
import { DEFAULT_TAG, splitTemplateName } from './tags.js';
import { templateIdOf } from './template-steps.js';

type Vars = { Variables: { tenant: string } };

export interface E2bSnapshot {
  /** The snapshot's template name (the name asked for, else a generated id). */
  id: string;
  owner: string;
  /** The hidden engine sandbox new sandboxes fork from. */
  sandboxId: string;
  /** The sandbox it was taken from. */
  source: string;
  /** The account the source's commands ran as by default (absent: `user`). */
  account?: Account;
  createdAt: Date;
}

interface RawSnapshot {
  id: string;
  owner: string;
  sandbox_id: string;
  source: string;
  account: string | null;
  created_at: number;
}

export class E2bSnapshots {
  readonly #put;
  readonly #get;
  readonly #bySandbox;
  readonly #byOwner;
  readonly #drop;
  readonly #all;

  constructor(db: Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS e2b_snapshots (
      id TEXT PRIMARY KEY, owner TEXT NOT NULL, sandbox_id TEXT NOT NULL UNIQUE, source TEXT NOT NULL,
      account TEXT, created_at INTEGER NOT NULL)`);
    this.#put = db.prepare(
      'INSERT OR REPLACE INTO e2b_snapshots (id, owner, sandbox_id, source, account, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#get = db.prepare('SELECT * FROM e2b_snapshots WHERE id = ?');
    this.#bySandbox = db.prepare('SELECT * FROM e2b_snapshots WHERE sandbox_id = ?');
    this.#byOwner = db.prepare('SELECT * FROM e2b_snapshots WHERE owner = ? ORDER BY created_at, id');
    this.#drop = db.prepare('DELETE FROM e2b_snapshots WHERE id = ?');
    this.#all = db.prepare('SELECT * FROM e2b_snapshots');
  }

  put(s: E2bSnapshot): void {
    this.#put.run(
      s.id,
      s.owner,
      s.sandboxId,
      s.source,
      s.account ? JSON.stringify(s.account) : null,
      s.createdAt.getTime(),
    );
  }

  get(id: string): E2bSnapshot | undefined {
    const raw = this.#get.get(id) as RawSnapshot | undefined;
    return raw && fromRaw(raw);
  }

  /** The tenant's snapshot a template name (`id` or `id:default`) names, if it is one. */
  find(tenant: string, name: string): E2bSnapshot | undefined {
    const { name: id, tag } = splitTemplateName(name);
    const found = this.get(id);
    if (found === undefined || found.owner !== tenant) return undefined;
    if (tag !== DEFAULT_TAG)
      throw new MitosError('not_found', `snapshot "${name}" not found (snapshots have only the default tag)`);
    return found;
  }

  byOwner(owner: string): E2bSnapshot[] {
    return (this.#byOwner.all(owner) as RawSnapshot[]).map(fromRaw);
  }

  all(): E2bSnapshot[] {
    return (this.#all.all() as RawSnapshot[]).map(fromRaw);
  }

  /** Forget the snapshot whose hidden sandbox is gone (crash, host reboot); true when there was one. */
  forgetSandbox(sandboxId: string): boolean {
    const raw = this.#bySandbox.get(sandboxId) as RawSnapshot | undefined;
    if (raw !== undefined) this.#drop.run(raw.id);
    return raw !== undefined;
  }

  drop(id: string): void {
    this.#drop.run(id);
  }
}

function fromRaw(raw: RawSnapshot): E2bSnapshot {
  return {
    id: raw.id,
    owner: raw.owner,
    sandboxId: raw.sandbox_id,
    source: raw.source,
    ...(raw.account !== null && { account: JSON.parse(raw.account) as Account }),
    createdAt: new Date(raw.created_at),
  };
}

/** E2B's SnapshotInfo: the id names the default tag, as E2B's does. */
function snapshotInfo(s: E2bSnapshot): { snapshotID: string; names: string[] } {
  return { snapshotID: `${s.id}:${DEFAULT_TAG}`, names: [`${s.id}:${DEFAULT_TAG}`] };
}

/** Remove a snapshot and its hidden sandbox (sandboxes started from it keep running). */
export async function deleteSnapshot(engine: Engine, snapshots: E2bSnapshots, s: E2bSnapshot): Promise<void> {
  snapshots.drop(s.id);
  await engine.terminate(s.sandboxId).catch(() => {});
}

/**
 * The hidden copy of `source`. Our fork copies a running sandbox (the agent inside saves the
 * interpreters' state first), so a paused one, which E2B snapshots as it is, is woken for the copy
 * and paused again; a paused sandbox has no deadline, and it keeps none.
 */
async function copyForSnapshot(engine: Engine, source: string, copy: string): Promise<void> {
  if (engine.get(source)?.state !== 'paused') {
    await engine.fork(source, { count: 1, ids: [copy] });
    return;
  }
  await engine.resume(source, { onAccepted: stillPaused, deadline: null });
  try {
    await engine.fork(source, { count: 1, ids: [copy] });
  } catch (err) {
    await engine.pause(source, { deadline: null }).catch(() => {});
    throw err;
  }
  try {
    await engine.pause(source, { deadline: null });
  } catch (err) {
    // Nothing half-made: without its source paused again the snapshot is not taken.
    await engine.terminate(copy).catch(() => {});
    throw err;
  }
}

function stillPaused(sandbox: SandboxInfo): void {
  if (sandbox.state !== 'paused')
    throw new MitosError('conflict', `sandbox "${sandbox.id}" changed state during the snapshot; try again`);
}

const SnapshotRequestSchema = z.object({ name: z.string().min(1).optional() }).passthrough();

/** `nameTaken(id)`: whether a name is a template of this server already (built in, or built by any key). */
export function snapshotRoutes(
  app: Hono<Vars>,
  ctx: E2bContext,
  accounts: Accounts,
  snapshots: E2bSnapshots,
  nameTaken: (id: string) => boolean,
  readBody: (c: Context) => Promise<unknown>,
): void {
  const { engine } = ctx;

  app.post('/sandboxes/:id/snapshots', async (c) => {
    const tenant = c.get('tenant');
    const { row } = ownedSandbox(ctx, tenant, c.req.param('id'));
    const body = SnapshotRequestSchema.parse(await readBody(c));
    const id = body.name === undefined ? newE2bSandboxId() : templateIdOf(body.name);
    const previous = snapshots.get(id);
    if (previous !== undefined && previous.owner !== tenant) {
      throw new MitosError('conflict', `snapshot name "${id}" is taken; choose another name`);
    }
    if (previous === undefined && nameTaken(id)) {
      throw new MitosError('conflict', `"${id}" names a template on this server; choose another snapshot name`);
    }
    // The copy must hold the account the source's commands run as.
    await accounts.ready(row.id);
    const sandboxId = newE2bSandboxId();
    await ctx.lifecycle.run(row.id, () => copyForSnapshot(engine, row.id, sandboxId));
    const snapshot: E2bSnapshot = {
      id,
      owner: tenant,
      sandboxId,
      source: row.id,
      ...(row.account && { account: row.account }),
      createdAt: new Date(),
    };
    try {
      snapshots.put(snapshot);
    } catch (err) {
      await engine.terminate(sandboxId).catch(() => {});
      throw err;
    }
    // A snapshot taken again under its name replaces the one before, as E2B gives the name a new build.
    if (previous !== undefined) await engine.terminate(previous.sandboxId).catch(() => {});
    ctx.events.add(row.id, 'snapshot created', { snapshot: id });
    return c.json(snapshotInfo(snapshot), 201);
  });

  app.get('/snapshots', (c) => {
    const source = c.req.query('sandboxID');
    const name = c.req.query('name');
    const wanted = name === undefined ? undefined : splitTemplateName(name.slice(name.lastIndexOf('/') + 1)).name;
    const all = snapshots
      .byOwner(c.get('tenant'))
      .filter((s) => (source === undefined || s.source === source) && (wanted === undefined || s.id === wanted));
    return c.json(offsetPage(c, all).map(snapshotInfo));
  });
}
