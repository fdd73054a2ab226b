/**
 * One QEMU process and the operations the engine composes into boot, restore and fork.
 * Migration always goes through inherited fds: device state only (x-ignore-shared, RAM stays in
 * its shared file) when taking a snapshot, all of RAM when a private-memory VM must be
 * materialized into a new shared file.
 */
import type { Duplex, Readable } from 'node:stream';
import { defaultGuestPath } from './paths.js';
import { FD, type LaunchSpec, qemuArgs } from './qemu-args.js';
import { type Confinement, type QemuProcess, spawnQemu } from './qemu-process.js';

export interface VmSpec extends Omit<LaunchSpec, 'name'> {
  name: string;
  confinement: Confinement;
  consoleLog?: string;
  /** The binary with the --send-fd helper (default: the guest agent). */
  fdHelper?: string;
  /** Stay stopped after an incoming migration (-S) until cont(). */
  startPaused?: boolean;
}

type Caps = Partial<Record<'x-ignore-shared' | 'events', boolean>>;

export class Vm {
  readonly proc: QemuProcess;
  private handshook: Promise<void> | undefined;

  private constructor(readonly spec: VmSpec) {
    const args = qemuArgs(spec);
    if (spec.startPaused) args.push('-S');
    this.proc = spawnQemu({ args, confinement: spec.confinement, consoleLog: spec.consoleLog });
  }

  static start(spec: VmSpec): Vm {
    return new Vm(spec);
  }

  get pid(): number {
    return this.proc.pid;
  }

  get agent(): Duplex {
    return this.proc.agent;
  }

  /** QMP greeting + capabilities; rejects with QEMU's own error output if it died. */
  ready(): Promise<void> {
    this.handshook ??= this.proc.qmp.handshake().catch(async (err: Error) => {
      await Promise.race([this.proc.exited, new Promise((r) => setTimeout(r, 500))]);
      throw new Error(`QEMU did not start: ${err.message}; ${this.proc.diagnostics()}`);
    });
    return this.handshook;
  }

  private async setCaps(caps: Caps): Promise<void> {
    await this.proc.qmp.execute('migrate-set-capabilities', {
      capabilities: Object.entries(caps).map(([capability, state]) => ({ capability, state })),
    });
  }

  private waitMigration(timeoutMs: number): Promise<void> {
    return this.proc.qmp
      .waitEvent(
        'MIGRATION',
        (d) => d.status === 'completed' || d.status === 'failed' || d.status === 'cancelled',
        timeoutMs,
      )
      .then(async (e) => {
        if (e.data?.status === 'completed') return;
        const info = await this.proc.qmp.execute<{ 'error-desc'?: string }>('query-migrate').catch(() => undefined);
        throw new Error(
          `migration ${String(e.data?.status)}: ${info?.['error-desc'] ?? 'no detail'}; ${this.proc.diagnostics()}`,
        );
      });
  }

  /** Start a migration with `command` and wait for `done`, which was armed before it. */
  private async whileMigrating(done: Promise<void>, command: () => Promise<unknown>): Promise<void> {
    try {
      await command();
    } catch (err) {
      done.catch(() => {});
      throw err;
    }
    await done;
  }

  async stop(): Promise<void> {
    await this.proc.qmp.execute('stop');
  }

  async cont(): Promise<void> {
    await this.proc.qmp.execute('cont');
  }

  /**
   * Device state only (RAM stays in its shared file): the VM must be stopped. A few tens of
   * KB; with RAM in a frozen file it is the whole snapshot.
   */
  async saveDevices(timeoutMs = 60_000): Promise<Buffer> {
    await this.ready();
    await this.setCaps({ events: true, 'x-ignore-shared': true });
    const chunks: Buffer[] = [];
    const out = await this.outgoingChannel();
    const ended = new Promise<void>((resolve) => {
      out.on('data', (d: Buffer) => chunks.push(d));
      out.once('end', resolve);
      out.once('close', resolve);
    });
    await this.whileMigrating(this.waitMigration(timeoutMs), () =>
      this.proc.qmp.execute('migrate', { uri: 'fd:migrate-out' }),
    );
    await ended;
    return Buffer.concat(chunks);
  }

  /** Become the restore target of `stream` (device state, or a whole VM). Needs -incoming. */
  /**
   * Become the restore target of `stream` (device state), or, with no stream, of whatever
   * another QEMU writes straight into our incoming fd. Needs -incoming.
   */
  async incoming(stream: Buffer | undefined, ignoreShared: boolean, timeoutMs = 120_000): Promise<void> {
    await this.ready();
    await this.setCaps({ events: true, 'x-ignore-shared': ignoreShared });
    await this.whileMigrating(this.waitMigration(timeoutMs), async () => {
      await this.proc.qmp.execute('migrate-incoming', { uri: `fd:${FD.migrateIn}` });
      if (stream) this.proc.migrateIn.end(stream);
    });
  }

  /**
   * Send everything (RAM included) to `target`, which must be waiting in incoming(). The VM
   * must be stopped; it stays stopped.
   */
  async migrateAllTo(target: Vm, timeoutMs = 300_000): Promise<void> {
    await this.ready();
    await this.setCaps({ events: true, 'x-ignore-shared': false });
    // The VM is stopped, so there is no convergence to wait for: lift the default 128 MiB/s cap.
    await this.proc.qmp.execute('migrate-set-parameters', { 'max-bandwidth': 2 ** 40 });
    // QEMU writes straight into the target's incoming socketpair, kernel to kernel.
    await this.proc.qmp.passSocket(this.spec.fdHelper ?? defaultGuestPath(), 'migrate-out', target.proc.migrateIn);
    const received = target.incoming(undefined, false, timeoutMs);
    received.catch(() => {}); // awaited below; a failure of `migrate` must not leave it unheard
    await this.whileMigrating(this.waitMigration(timeoutMs), () =>
      this.proc.qmp.execute('migrate', { uri: 'fd:migrate-out' }),
    );
    await received;
    if (process.env.MITOS_MICROVM_TRACE === '1') {
      process.stderr.write(`[microvm migrate] ${JSON.stringify(await this.proc.qmp.execute('query-migrate'))}\n`);
    }
  }

  /** A fresh socket QEMU knows as `migrate-out`; we read the stream from our end. */
  private async outgoingChannel(): Promise<Readable> {
    const out = await this.proc.qmp.passSocket(this.spec.fdHelper ?? defaultGuestPath(), 'migrate-out');
    if (!out) throw new Error('no outgoing migration stream');
    return out;
  }

  async kill(): Promise<void> {
    await this.proc.kill();
  }
}
