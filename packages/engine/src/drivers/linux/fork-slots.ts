/**
 * Fork slots: sandbox children launched ahead of the forks that will use them, so a fork pays
 * only for the root (snapshot, mounts), the agent's start and its first exec. A slot is a
 * `mitos-agent launch --slot` (packages/agent/src/launch-slot.c) whose child already has its
 * fresh user, pid, uts, ipc and network namespaces, its own host uid range and its cgroups
 * (with small limits until a fork sets its own), waiting for its root. A fork claims one slot
 * per child while it reserves the child's row (the row's cgroup key is the slot's), then hands
 * the slot the child's root and identity; the slot is then that sandbox and never serves
 * another. Taken slots are refilled one at a time after the fork that took them, never on its
 * path. Without a ready slot a fork launches its children as before.
 *
 * The engine holds one connection to each slot's launcher: when the engine closes or dies,
 * the launcher sees it end and kills its child, so a slot never outlives its engine. What a
 * dead engine leaves (the slot's cgroup, its uid range) the next one removes at start.
 */
import { randomBytes } from 'node:crypto';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { MitosError } from '@mitos/protocol';
import type { CgroupManager, SandboxCgroup } from '../../cgroups/cgroup.js';
import type { ResourceLimits } from '../../engine.js';
import { processStartTicks } from '../../host/proc.js';
import type { Spawner } from '../../host/spawner.js';
import { UID_RANGE_SIZE } from '../../host/uid-range.js';
import type { UidRanges } from '../../host/uid-ranges.js';
import { type LaunchedSandbox, type LaunchSpec, nulSeparated, rootArgs, startLauncher } from './launcher.js';

/**
 * The cgroup keys (and uid range owners) of slots start with this: with a dot, which no
 * sandbox id may hold, so no sandbox a client names is ever taken for a slot.
 */
export const SLOT_PREFIX = 'slot.';

/** A waiting child needs almost nothing; a fork sets the sandbox's own limits. */
const SLOT_LIMITS: ResourceLimits = { memoryBytes: 64 * 1024 * 1024, pids: 16, cpus: 1 };

export interface ForkSlotsOptions {
  /** How many slots to keep ready (0: none). */
  size: number;
  spawner: Spawner;
  agentPath: string;
  stateDir: string;
  cgroups: CgroupManager;
  uidRanges: UidRanges;
  log: (level: 'info' | 'warn', msg: string, fields: Record<string, unknown>) => void;
}

export interface ForkSlot {
  readonly key: string;
  readonly cgroup: SandboxCgroup;
  /** The waiting child's host pid: the sandbox's init once the slot is used. */
  readonly initPid: number;
  readonly supervisorPid: number;
  readonly conn: Socket;
}

export class ForkSlots {
  private readonly ready: ForkSlot[] = [];
  private readonly claimed = new Map<string, ForkSlot>();
  private filling: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly opts: ForkSlotsOptions) {}

  /** How many slots are ready now. */
  get available(): number {
    return this.ready.length;
  }

  /** Start filling up to the configured size in the background (one launch at a time). */
  fill(): void {
    if (this.filling || this.closed || this.ready.length >= this.opts.size) return;
    this.filling = (async () => {
      while (!this.closed && this.ready.length < this.opts.size) {
        try {
          const slot = await this.launch();
          if (this.closed) await this.end(slot);
          else this.ready.push(slot);
        } catch (err) {
          // Forks launch their children without slots until the next fill.
          this.opts.log('warn', 'fork slot launch failed', { error: (err as Error).message });
          return;
        }
      }
    })().finally(() => {
      this.filling = undefined;
    });
  }

  /** A ready slot set aside for one fork child: its key (the child's cgroup key), or undefined. */
  claim(): string | undefined {
    const slot = this.ready.shift();
    if (!slot) return undefined;
    this.claimed.set(slot.key, slot);
    return slot.key;
  }

  /** The claimed slot of this cgroup key, handed over once (a slot never serves two forks). */
  take(key: string): ForkSlot | undefined {
    const slot = this.claimed.get(key);
    this.claimed.delete(key);
    return slot;
  }

  isSlotKey(key: string): boolean {
    return key.startsWith(SLOT_PREFIX);
  }

  /**
   * Give the slot the sandbox's root and identity (`spec`, whose uid range and cgroups are the
   * slot's): resolves once the sandbox's agent serves, as a fresh launch does.
   */
  use(slot: ForkSlot, spec: LaunchSpec): Promise<LaunchedSandbox> {
    return new Promise((resolve, reject) => {
      if (slot.conn.destroyed || !slot.conn.writable) {
        reject(new MitosError('internal', 'the fork slot ended before its fork', { sandbox: spec.sandboxId }));
        return;
      }
      let reply = '';
      slot.conn.setEncoding('utf8');
      slot.conn.removeAllListeners('close');
      slot.conn.on('data', (d: string) => {
        reply += d;
      });
      slot.conn.on('error', () => {});
      slot.conn.on('close', () => {
        const pid = Number(reply.split('\n')[0]);
        if (reply.endsWith('\n') && Number.isInteger(pid) && pid === slot.initPid) {
          resolve({ initPid: pid, initStartTicks: processStartTicks(pid) ?? '', supervisorPid: slot.supervisorPid });
        } else {
          reject(
            new MitosError('internal', `sandbox launch in a fork slot failed: ${reply.trim() || 'no detail'}`, {
              sandbox: spec.sandboxId,
            }),
          );
        }
      });
      // An empty argument ends them.
      slot.conn.end(`${nulSeparated(rootArgs(spec))}\0`);
    });
  }

  /** End a slot that was claimed but not used (its fork failed first). */
  async discard(key: string): Promise<void> {
    const slot = this.take(key);
    if (slot) await this.end(slot);
  }

  /** End every slot that no fork has used. */
  async close(): Promise<void> {
    this.closed = true;
    await this.filling;
    const unused = [...this.ready.splice(0), ...this.claimed.values()];
    this.claimed.clear();
    await Promise.all(unused.map((s) => this.end(s)));
  }

  private async launch(): Promise<ForkSlot> {
    const key = `${SLOT_PREFIX}${randomBytes(6).toString('hex')}`;
    const cgroup = await this.opts.cgroups.create(key, SLOT_LIMITS);
    try {
      const uidBase = this.opts.uidRanges.allocate(key);
      const socket = join(this.opts.stateDir, 'run', `${key}.ctl`);
      const args = [
        '--slot',
        socket,
        '--slot-owner',
        String(process.pid),
        '--uid-base',
        String(uidBase),
        '--uid-count',
        String(UID_RANGE_SIZE),
        ...cgroup.procsFiles.flatMap((f) => ['--cgroup-procs', f]),
        ...(this.opts.cgroups.primeFile ? ['--cgroup-prime', this.opts.cgroups.primeFile] : []),
      ];
      const started = await startLauncher(this.opts.spawner, this.opts.agentPath, args, key);
      const conn = await connect(socket);
      const slot: ForkSlot = { key, cgroup, initPid: started.initPid, supervisorPid: started.supervisorPid, conn };
      // A slot whose launcher ended while it waited is gone: it leaves the ready list.
      conn.on('close', () => {
        const i = this.ready.indexOf(slot);
        if (i >= 0) {
          this.ready.splice(i, 1);
          void this.end(slot);
        }
      });
      return slot;
    } catch (err) {
      await cgroup.destroy().catch(() => {});
      this.opts.uidRanges.release(key);
      throw err;
    }
  }

  private async end(slot: ForkSlot): Promise<void> {
    slot.conn.destroy();
    await slot.cgroup.destroy().catch(() => {});
    this.opts.uidRanges.release(slot.key);
  }
}

/**
 * After a restart, before this engine makes slots of its own: what a dead engine's slots left.
 * A slot cgroup that a kept sandbox holds (a fork made that sandbox from it; its row keeps the
 * slot's key) stays. Every other one is debris, removed with whatever still runs in it: its
 * launcher kills its child when the dead engine's connection ends, but a restart right after a
 * kill -9 can come first, and a cgroup skipped then would never be removed.
 */
export async function removeSlotDebris(cgroups: CgroupManager, inUse: ReadonlySet<string>): Promise<void> {
  for (const key of cgroups.list()) {
    if (!key.startsWith(SLOT_PREFIX) || inUse.has(key)) continue;
    await cgroups
      .open(key)
      ?.destroy()
      .catch(() => {});
  }
}

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(path);
    conn.once('connect', () => {
      conn.removeListener('error', reject);
      conn.on('error', () => {});
      resolve(conn);
    });
    conn.once('error', reject);
  });
}
