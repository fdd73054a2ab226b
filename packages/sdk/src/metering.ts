/** `GET /v1/metering` (api-extensions.md): resource use per sandbox, shared data counted once. */
import { invalidResponse } from './http.js';

export interface MemoryUsage {
  /** Pages only this sandbox maps. */
  uniqueBytes: number;
  /** Pages shared with its fork relatives (copy-on-write, not yet copied). */
  sharedBytes: number;
  /** What the sandbox's cgroup charges. */
  cgroupBytes: number;
}

export interface DiskUsage {
  exclusiveBytes: number;
  sharedBytes: number;
}

export interface SandboxMetering {
  sandbox: string;
  memory: MemoryUsage;
  /** Null when the storage backend cannot attribute blocks (e.g. no reflinks). */
  disk: DiskUsage | null;
  cpuNs: number;
  /** Bytes sent out through the sandbox's network link. */
  egressBytes: number;
}

export interface Metering {
  sandboxes: SandboxMetering[];
  /** The server's totals, keys converted to camelCase. */
  totals: Record<string, unknown>;
}

export function toMetering(value: unknown): Metering {
  const r = record(value);
  if (!Array.isArray(r.sandboxes)) throw invalidResponse('the metering answer lacks a "sandboxes" array');
  return {
    sandboxes: r.sandboxes.map((s) => {
      const row = record(s);
      const mem = record(row.memory);
      const disk = row.disk === null || row.disk === undefined ? null : record(row.disk);
      return {
        sandbox: typeof row.sandbox === 'string' ? row.sandbox : '',
        memory: {
          uniqueBytes: n(mem.unique_bytes),
          sharedBytes: n(mem.shared_bytes),
          cgroupBytes: n(mem.cgroup_bytes),
        },
        disk: disk && { exclusiveBytes: n(disk.exclusive_bytes), sharedBytes: n(disk.shared_bytes) },
        cpuNs: n(row.cpu_ns),
        egressBytes: n(row.egress_bytes),
      };
    }),
    totals: camelKeys(record(r.totals)) as Record<string, unknown>,
  };
}

const record = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** The totals' shape is the server's to extend; convert every key rather than pick some. */
function camelKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()), camelKeys(v)]),
  );
}
