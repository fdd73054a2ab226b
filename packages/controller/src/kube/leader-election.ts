/**
 * Leader election on a coordination.k8s.io/v1 Lease, so only one controller replica reconciles.
 *
 * Expiry is judged on the local clock: a lease counts as expired when its record has not
 * changed for `leaseDurationMs` since we first saw it, which makes the scheme independent of
 * clock skew between replicas. A leader that cannot renew within `renewDeadlineMs` steps
 * down (its leadership signal aborts) before another replica can take over.
 * @module
 */
import type { Lease } from '../api/meta.js';
import { isConflict, type KubeClient } from './client.js';
import { microTime } from './micro-time.js';
import { LEASES } from './resources.js';

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  /** Default 15 s. */
  leaseDurationMs?: number;
  /** Default 10 s; must be below leaseDurationMs. */
  renewDeadlineMs?: number;
  /** Default 2 s. */
  retryPeriodMs?: number;
  now?: () => number;
  onError?: (err: unknown) => void;
}

export class LeaderElector {
  readonly #o: Required<Omit<LeaderElectionOptions, 'onError'>> & Pick<LeaderElectionOptions, 'onError'>;
  #observedRecord = '';
  #observedAt = 0;

  constructor(options: LeaderElectionOptions) {
    this.#o = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      now: Date.now,
      ...options,
    };
    if (this.#o.renewDeadlineMs >= this.#o.leaseDurationMs) {
      throw new Error('renewDeadlineMs must be shorter than leaseDurationMs');
    }
  }

  /**
   * Campaigns until `signal` aborts. Each time leadership is won, `lead` runs with a signal
   * that aborts when leadership is lost; `lead`'s promise should settle soon after.
   */
  async run(signal: AbortSignal, lead: (leadership: AbortSignal) => Promise<void>): Promise<void> {
    while (!signal.aborted) {
      if (!(await this.tryAcquireOrRenew())) {
        await sleep(this.#o.retryPeriodMs, signal);
        continue;
      }
      const leadership = new AbortController();
      const stop = () => leadership.abort(signal.reason);
      signal.addEventListener('abort', stop, { once: true });
      const renewing = this.#renewLoop(leadership);
      try {
        await lead(leadership.signal);
      } finally {
        leadership.abort();
        signal.removeEventListener('abort', stop);
        await renewing;
      }
    }
    await this.release().catch(() => {});
  }

  async #renewLoop(leadership: AbortController): Promise<void> {
    let lastRenew = this.#o.now();
    while (!leadership.signal.aborted) {
      await sleep(this.#o.retryPeriodMs, leadership.signal);
      if (leadership.signal.aborted) return;
      if (await this.tryAcquireOrRenew()) {
        lastRenew = this.#o.now();
      } else if (this.#o.now() - lastRenew >= this.#o.renewDeadlineMs) {
        leadership.abort(new Error('lost the leader lease'));
      }
    }
  }

  /** One attempt: true when we hold the lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { client, namespace, name, identity } = this.#o;
    const now = this.#o.now();
    try {
      const lease = await client.get<Lease>(LEASES, namespace, name);
      const durationSeconds = Math.ceil(this.#o.leaseDurationMs / 1000);
      if (!lease) {
        await client.create<Lease>(LEASES, {
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: microTime(new Date(now)),
            renewTime: microTime(new Date(now)),
            leaseTransitions: 0,
          },
        });
        this.#observe(JSON.stringify({ holder: identity, renew: now }), now);
        return true;
      }
      const spec = lease.spec ?? {};
      const record = JSON.stringify({ holder: spec.holderIdentity, renew: spec.renewTime });
      if (record !== this.#observedRecord) this.#observe(record, now);
      const heldByUs = spec.holderIdentity === identity;
      const expired = now - this.#observedAt >= (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
      if (!heldByUs && spec.holderIdentity && !expired) return false;
      const updated = await client.update<Lease>(LEASES, {
        ...lease,
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds: durationSeconds,
          renewTime: microTime(new Date(now)),
          acquireTime: heldByUs ? spec.acquireTime : microTime(new Date(now)),
          leaseTransitions: (spec.leaseTransitions ?? 0) + (heldByUs ? 0 : 1),
        },
      });
      this.#observe(JSON.stringify({ holder: identity, renew: updated.spec?.renewTime }), now);
      return true;
    } catch (err) {
      // A conflict means another replica wrote first: not an error, just not us this round.
      if (!isConflict(err)) this.#o.onError?.(err);
      return false;
    }
  }

  /** Gives the lease up on a clean shutdown so a standby takes over at once. */
  async release(): Promise<void> {
    const { client, namespace, name, identity } = this.#o;
    const lease = await client.get<Lease>(LEASES, namespace, name);
    if (!lease || lease.spec?.holderIdentity !== identity) return;
    await client.update<Lease>(LEASES, { ...lease, spec: { ...lease.spec, holderIdentity: '' } });
  }

  #observe(record: string, at: number): void {
    this.#observedRecord = record;
    this.#observedAt = at;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
