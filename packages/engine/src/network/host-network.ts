/**
 * One server's sandbox networking on a Linux host: postures and link slots in SQLite
 * (slots.ts), veth links into sandbox namespaces (plumbing.ts), and the server's nftables
 * table (rules.ts). A sandbox whose posture lets nothing through gets no link at all; one is
 * made the first time its posture opens (at launch, for pooled sandboxes, so create does not
 * pay for it). After a restart, reconcile() rebuilds the table from the database and removes
 * every link, slot and rule of a sandbox that is gone.
 */
import { DENY_POSTURE, isClosedPosture, MitosError, type NetworkPosture } from '@mitos/protocol';
import type { DriverNetwork } from '../core/driver.js';
import { run } from '../host/run.js';
import type { Spawner } from '../host/spawner.js';
import { which } from '../host/which.js';
import type { StateDatabase } from '../state/database.js';
import type { SandboxRow } from '../state/store.js';
import {
  interfacePrefix,
  type NetworkIdentity,
  networkIdentity,
  resolverAddress,
  slotAddresses,
  slotOfAddress,
  v4BlockCandidates,
} from './addressing.js';
import type { DnsGrant } from './dns-policy.js';
import { type Forwarding, HOST_FORWARDING, withForwardingOn, withForwardingRestored } from './forwarding.js';
import { conntrackReadable } from './original-destination.js';
import { hostRoutes4, listLinks, plumbLink, runScript, unplumbLink } from './plumbing.js';
import { DnsResolver, type DnsUpstream, defaultUpstreams, type ResolverClient } from './resolver.js';
import { grantScript, linkScript, type SandboxLink, type ServicePorts, tableScript, unlinkScript } from './rules.js';
import { type NetworkRow, NetworkSlots } from './slots.js';
import { SniProxy } from './sni-proxy.js';

export type NetworkLog = (level: 'info' | 'warn', msg: string, fields: Record<string, unknown>) => void;

export interface HostNetworkOptions {
  stateDir: string;
  db: StateDatabase;
  log: NetworkLog;
  /** Where the sandboxes' resolver forwards allowed questions; default defaultUpstreams(). */
  dnsUpstreams?: DnsUpstream[];
  /** The host's forwarding sysctls, marker and lock (tests point these at files of their own). */
  forwarding?: Omit<Forwarding, 'log'>;
  /** Starts nft, ip and nsenter per link and per DNS grant instead of forking the server. */
  spawner?: Spawner;
}

export class HostNetwork {
  readonly identity: NetworkIdentity;
  readonly slots: NetworkSlots;
  private ports: ServicePorts = {};
  private resolver: DnsResolver | undefined;
  private sniProxy: SniProxy | undefined;
  /** Serialises table changes: nft scripts from two requests must not interleave. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly opts: HostNetworkOptions,
    identity: NetworkIdentity,
    slots: NetworkSlots,
    /** Why postures that need a link cannot be enforced here; undefined when they can. */
    readonly unavailable: string | undefined,
  ) {
    this.identity = identity;
    this.slots = slots;
  }

  static async open(opts: HostNetworkOptions): Promise<HostNetwork> {
    const slots = new NetworkSlots(opts.db);
    const missing = ['nft', 'ip', 'nsenter'].filter((t) => !which(t));
    const unavailable = missing.length > 0 ? `${missing.join(', ')} not found` : undefined;
    let block = slots.storedBlock();
    if (block === undefined) {
      block = unavailable ? v4BlockCandidates(opts.stateDir)[0] : await freeBlock(opts.stateDir);
      slots.storeBlock(block as number);
    }
    const network = new HostNetwork(opts, networkIdentity(opts.stateDir, block), slots, unavailable);
    if (!unavailable) await network.startServices();
    return network;
  }

  /** The sandboxes' DNS and name check: started before any table is built, as the rules name their ports. */
  private async startServices(): Promise<void> {
    this.resolver = await DnsResolver.listen({
      upstreams: this.opts.dnsUpstreams ?? defaultUpstreams(),
      clientOf: (address) => this.clientOf(address),
      grant: (slot, grants) => this.grant(slot, grants),
      log: this.opts.log,
    });
    const resolver = this.resolver;
    this.sniProxy = await SniProxy.listen({
      clientOf: (address) => this.clientOf(address),
      namesFor: (slot, address) => resolver.namesFor(slot, address),
      log: this.opts.log,
    });
    this.setServicePorts({ ...this.ports, dns: this.resolver.port, sni: this.sniProxy.port });
  }

  private clientOf(address: string): ResolverClient | undefined {
    const slot = slotOfAddress(this.identity, address);
    const row = slot === undefined ? undefined : this.slots.bySlot(slot);
    return row && slot !== undefined ? { slot, posture: row.posture } : undefined;
  }

  private grant(slot: number, grants: DnsGrant[]): Promise<void> {
    return runScript('nft', ['-f', '-'], grantScript(this.identity, slot, grants), this.opts.spawner);
  }

  /**
   * Stop answering DNS and checking names (sandboxes and their rules stay; the next server
   * takes over). Connections joined by the name check end with this server.
   */
  async close(): Promise<void> {
    await this.resolver?.close();
    await this.sniProxy?.close();
    this.resolver = undefined;
    this.sniProxy = undefined;
  }

  /** This network as the driver port the host core uses (core/driver.ts). */
  driverPort(): DriverNetwork {
    return {
      admit: (posture) => this.admit(posture),
      reserve: (id, posture) => this.reserve(id, posture),
      posture: (id) => this.posture(id),
      change: (row, posture) => this.change(row.id, liveInit(row), posture),
      egressBytes: () => this.egressBytes(),
    };
  }

  /** Ports of the resolver and SNI proxy (once they listen); rules redirect to them. */
  setServicePorts(ports: ServicePorts): void {
    this.ports = ports;
  }

  /** The port the sandboxes' resolver listens on (undefined on a host that cannot network). */
  get resolverPort(): number | undefined {
    return this.resolver?.port;
  }

  /** The port the name check for allow_domains listens on (undefined on a host that cannot network). */
  get sniPort(): number | undefined {
    return this.sniProxy?.port;
  }

  resolverAddress(): string {
    return resolverAddress(this.identity);
  }

  /** Refuse, before anything is made, a posture this host cannot enforce. */
  admit(posture: NetworkPosture): void {
    if (!isClosedPosture(posture) && !this.unavailable && posture.allow_domains?.length && !conntrackReadable()) {
      throw new MitosError(
        'host_unsupported',
        'this host cannot check the names of allow_domains connections: /proc/net/nf_conntrack is missing',
        {},
        {
          remediation:
            'load the conntrack module with its proc table (modprobe nf_conntrack; a kernel with CONFIG_NF_CONNTRACK_PROCFS), or use allow_cidrs',
        },
      );
    }
    if (isClosedPosture(posture) || !this.unavailable) return;
    throw new MitosError(
      'host_unsupported',
      `this host cannot enforce a network posture other than deny: ${this.unavailable}`,
      {},
      {
        remediation:
          'install nftables and iproute2 (apt-get install nftables iproute2), or create the sandbox with egress "deny"',
      },
    );
  }

  posture(sandboxId: string): NetworkPosture | undefined {
    return this.slots.get(sandboxId)?.posture;
  }

  /** Record the posture a sandbox will launch with (before launch). */
  reserve(sandboxId: string, posture: NetworkPosture): void {
    this.slots.setPosture(sandboxId, posture);
  }

  /** After launch: apply the recorded posture (or `fallback` when none was reserved). */
  attach(sandboxId: string, initPid: number, fallback: NetworkPosture): Promise<void> {
    const row = this.slots.get(sandboxId) ?? this.slots.setPosture(sandboxId, fallback);
    return this.apply(row, initPid);
  }

  /** Change a running sandbox's posture; connections opened under the old one are cut. */
  change(sandboxId: string, initPid: number, posture: NetworkPosture): Promise<void> {
    this.admit(posture);
    return this.apply(this.slots.setPosture(sandboxId, posture), initPid);
  }

  rename(fromId: string, toId: string): void {
    this.slots.rename(fromId, toId);
  }

  /** Remove the sandbox's rules, link and row. Idempotent. */
  detach(sandboxId: string): Promise<void> {
    return this.serial(async () => {
      const row = this.slots.get(sandboxId);
      if (row?.slot != null) {
        const a = slotAddresses(this.identity, row.slot);
        await unplumbLink(a.hostIf, this.opts.spawner);
        this.resolver?.forget(row.slot);
        this.sniProxy?.recheck(row.slot, DENY_POSTURE);
        this.sniProxy?.forget(row.slot);
        await runScript('nft', ['-f', '-'], unlinkScript(this.identity, row.slot, a), this.opts.spawner).catch(() =>
          this.rebuild(this.slots.all().filter((r) => r.sandboxId !== sandboxId)),
        );
      }
      this.slots.delete(sandboxId);
      await this.dropTableWhenUnused();
    });
  }

  /** No link left: the table goes too, so a server whose sandboxes are all gone leaves no rule. */
  private async dropTableWhenUnused(): Promise<void> {
    if (this.unavailable || this.slots.all().some((r) => r.slot != null)) return;
    const t = this.identity.table;
    await withForwardingRestored(
      this.forwarding(),
      async () => {
        await runScript('nft', ['-f', '-'], `table inet ${t}\ndelete table inet ${t}`, this.opts.spawner);
        this.tableReady = false;
      },
      async () => /^table inet mitos_/m.test((await run('nft', ['list', 'tables'])).stdout),
    );
  }

  private forwarding(): Forwarding {
    return { ...(this.opts.forwarding ?? HOST_FORWARDING), log: this.opts.log };
  }

  /** After a restart: keep what live sandboxes have, remove every other link, row and rule. */
  reconcile(live: ReadonlySet<string>): Promise<void> {
    return this.serial(async () => {
      for (const row of this.slots.all()) if (!live.has(row.sandboxId)) this.slots.delete(row.sandboxId);
      if (this.unavailable) return;
      const rows = this.slots.all();
      const keep = new Set(
        rows.filter((r) => r.slot != null).map((r) => slotAddresses(this.identity, r.slot as number).hostIf),
      );
      for (const name of await listLinks(interfacePrefix(this.identity))) if (!keep.has(name)) await unplumbLink(name);
      if (keep.size > 0) await this.rebuild(rows);
      else await this.dropTableWhenUnused();
    });
  }

  /** Bytes each sandbox sent out through its link (since the table was last built). */
  async egressBytes(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (this.unavailable) return out;
    const bySlot = new Map(
      this.slots
        .all()
        .filter((r) => r.slot != null)
        .map((r) => [r.slot as number, r.sandboxId]),
    );
    if (bySlot.size === 0) return out;
    const { stdout } = await run('nft', ['-j', 'list', 'counters', 'table', 'inet', this.identity.table]);
    for (const item of (JSON.parse(stdout) as { nftables: Array<{ counter?: { name: string; bytes: number } }> })
      .nftables) {
      const m = item.counter && /^bytes_(\d+)$/.exec(item.counter.name);
      const id = m ? bySlot.get(Number(m[1])) : undefined;
      if (id && item.counter) out.set(id, item.counter.bytes);
    }
    // Connections joined by the name check leave from the host, not through the link's counter.
    for (const [slot, bytes] of this.sniProxy?.sentBySlot ?? []) {
      const id = bySlot.get(slot);
      if (id) out.set(id, (out.get(id) ?? 0) + bytes);
    }
    return out;
  }

  /** Remove every link and the table (a state directory being destroyed). */
  destroy(): Promise<void> {
    return this.serial(async () => {
      if (this.unavailable) return;
      for (const name of await listLinks(interfacePrefix(this.identity))) await unplumbLink(name);
      for (const row of this.slots.all()) this.slots.delete(row.sandboxId);
      await this.dropTableWhenUnused();
    });
  }

  private apply(row: NetworkRow, initPid: number): Promise<void> {
    if (row.slot == null && isClosedPosture(row.posture)) return Promise.resolve();
    this.admit(row.posture);
    return this.serial(async () => {
      const fresh = row.slot == null;
      const slot = this.slots.allocateSlot(row.sandboxId);
      const addresses = slotAddresses(this.identity, slot);
      if (fresh) {
        await withForwardingOn(this.forwarding(), () => this.ensureTable());
        await plumbLink(addresses, initPid, this.opts.spawner);
      }
      const link: SandboxLink = { slot, addresses, posture: row.posture, generation: row.generation };
      await runScript('nft', ['-f', '-'], linkScript(this.identity, this.ports, link), this.opts.spawner);
      this.resolver?.forget(slot);
      this.sniProxy?.recheck(slot, row.posture);
    });
  }

  private tableReady = false;

  private async ensureTable(): Promise<void> {
    if (this.tableReady) return;
    await this.rebuild(this.slots.all());
  }

  private async rebuild(rows: NetworkRow[]): Promise<void> {
    const links = rows
      .filter((r) => r.slot != null)
      .map((r) => ({
        slot: r.slot as number,
        addresses: slotAddresses(this.identity, r.slot as number),
        posture: r.posture ?? DENY_POSTURE,
        generation: r.generation,
      }));
    await runScript('nft', ['-f', '-'], tableScript(this.identity, this.ports, links), this.opts.spawner);
    this.resolver?.forget();
    this.tableReady = true;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }
}

/** The first candidate /22 that no route of this host overlaps. */
async function freeBlock(stateDir: string): Promise<number> {
  const routes = await hostRoutes4();
  const candidates = v4BlockCandidates(stateDir);
  const taken = (block: number) =>
    routes.some((r) => {
      const [addr, len] = r.split('/');
      const p = (addr as string).split('.').map(Number);
      if (p[0] !== 10) return false;
      const start = ((p[1] as number) << 16) | ((p[2] as number) << 8) | (p[3] as number);
      const size = 2 ** (32 - Number(len ?? 32));
      const ours = block * 1024;
      return start < ours + 1024 && ours < start + size;
    });
  return candidates.find((b) => !taken(b)) ?? (candidates[0] as number);
}

function liveInit(row: SandboxRow): number {
  if (row.initPid === null) throw new MitosError('sandbox_not_running', `sandbox "${row.id}" has no running init`);
  return row.initPid;
}
