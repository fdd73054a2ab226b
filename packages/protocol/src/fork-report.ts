/**
 * The fork report (`ForkCarriedSchema`, wire.ts) as TypeScript holds it: the engine builds it,
 * the server sends it, the SDK reads it. Its type is derived from the schema, so a field is
 * declared once; the two mappings below are checked against it by the compiler. No zod here:
 * the SDK loads this through `@mitos/protocol/client`.
 * @module
 */
import type { ForkCarriedWire } from './wire.js';

/** A snake_case name in camelCase, at the type level. */
type Camel<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<Camel<Tail>>}` : S;

/** What a fork carried into its children: `ForkCarriedSchema`'s fields, in camelCase. */
export type ForkCarried = { [K in keyof ForkCarriedWire as Camel<K & string>]: ForkCarriedWire[K] };

/** A parent process the children do not have, and why. */
export type NotCarriedProcess = ForkCarriedWire['processes_not_carried'][number];

/** A parent process's socket closed in the children. */
export type ClosedConnection = NonNullable<ForkCarriedWire['connections_closed']>[number];

export function forkCarriedToWire(carried: ForkCarried): ForkCarriedWire {
  return {
    filesystem: carried.filesystem,
    interpreter: carried.interpreter,
    interpreter_skipped: carried.interpreterSkipped,
    processes: carried.processes,
    processes_not_carried: carried.processesNotCarried,
    connections: carried.connections,
    ...(carried.connectionsClosed?.length ? { connections_closed: carried.connectionsClosed } : {}),
  };
}

/**
 * Reads a report from an answer. Lenient, as a client must be with an older server: a field
 * that is absent takes its "not carried" value (the filesystem is always carried).
 */
export function forkCarriedFromWire(value: unknown): ForkCarried {
  const c = record(value);
  return {
    filesystem: c.filesystem !== false,
    interpreter: c.interpreter === true,
    interpreterSkipped: Array.isArray(c.interpreter_skipped) ? c.interpreter_skipped.map(String) : [],
    processes: c.processes === true,
    processesNotCarried: Array.isArray(c.processes_not_carried) ? c.processes_not_carried.map(notCarried) : [],
    connections: c.connections === true,
    ...(Array.isArray(c.connections_closed) ? { connectionsClosed: c.connections_closed.map(closed) } : {}),
  };
}

function closed(value: unknown): ClosedConnection {
  const p = record(value);
  return { pid: Number(p.pid) || 0, command: String(p.command ?? ''), socket: String(p.socket ?? '') };
}

function notCarried(value: unknown): NotCarriedProcess {
  const p = record(value);
  return { pid: Number(p.pid) || 0, command: String(p.command ?? ''), reason: String(p.reason ?? '') };
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}
