/**
 * The sandbox.v1.Sandbox service over our engine. Every RPC the current clients call is
 * served; the rest of the contract (watch, archive, port-forward, self-service budget and
 * vitals) answers Unimplemented with the /v1 route that does the job today, never a
 * half-working stand-in. Failures leave as ConnectErrors mapped from our catalogue.
 */
import type { ServiceImpl } from '@connectrpc/connect';
import { MitosError } from '@mitos/protocol';
import type { RouteDeps } from '../env.js';
import { toConnectError } from './errors.js';
import { execBidi, execStream } from './exec.js';
import * as files from './files.js';
import type { Sandbox } from './gen/sandbox/v1/sandbox_pb.js';
import { runCodeBidi, runCodeStream } from './run-code.js';
import { upload } from './upload.js';

type Impl = ServiceImpl<typeof Sandbox>;

const INSTEAD: Record<string, string> = {
  archive: 'list and read the files (List, ReadFile), or run `tar` with ExecStream',
  watch: 'poll with List or Stat',
  processes: 'use GET /v1/processes?sandbox=ID',
  signal: 'use POST /v1/processes/signal',
  portForward: 'use POST /v1/sandboxes/{id}/forward or POST /v1/preview',
  fork: 'use POST /v1/sandboxes/{id}/fork',
  checkpoint: 'use POST /v1/sandboxes/{id}/fork (a live fork keeps the state)',
  extendLifetime: 'use POST /v1/set_timeout',
  budget: 'this server has no self-service budgets; nothing to query',
  vitals: 'use GET /v1/metering',
};

function unimplemented(method: string): () => never {
  return () => {
    throw new MitosError(
      'not_implemented',
      `sandbox.v1.Sandbox/${upperFirst(method)} is not served here`,
      {},
      {
        remediation: INSTEAD[method] ?? 'see docs/connect-wire.md',
      },
    );
  };
}

export function sandboxService(deps: RouteDeps, secrets: readonly string[]): Impl {
  const { engine } = deps;
  const impl: Partial<Impl> = {
    exec: (requests, ctx) => execBidi(deps, requests, ctx),
    execStream: (req, ctx) => execStream(deps, req, ctx),
    runCode: (requests, ctx) => runCodeBidi(deps, requests, ctx),
    runCodeStream: (req, ctx) => runCodeStream(deps, req, ctx),
    readFile: (req, ctx) => files.readFile(engine, req.path, ctx),
    writeFile: (requests, ctx) => files.writeFile(engine, requests, ctx),
    list: (req, ctx) => files.list(engine, req, ctx),
    stat: (req, ctx) => files.stat(engine, req.path, ctx),
    mkdir: (req, ctx) => files.mkdir(engine, req.path, ctx),
    remove: (req, ctx) => files.remove(engine, req, ctx),
    upload: (requests, ctx) => upload(engine, requests, ctx),
  };
  for (const method of Object.keys(INSTEAD)) (impl as Record<string, unknown>)[method] = unimplemented(method);
  return withConnectErrors(impl as Impl, secrets);
}

/** Wraps every method so a thrown MitosError (or engine error) leaves as a mapped ConnectError. */
function withConnectErrors(impl: Impl, secrets: readonly string[]): Impl {
  const wrapped: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(impl) as Array<[string, (...args: unknown[]) => unknown]>) {
    wrapped[name] = (...args: unknown[]) => {
      const map = (err: unknown) => toConnectError(err, 'internal', {}, secrets);
      try {
        const result = method(...args);
        if (isAsyncIterable(result)) return mapIterable(result, map);
        if (result instanceof Promise) return result.catch((err: unknown) => Promise.reject(map(err)));
        return result;
      } catch (err) {
        throw map(err);
      }
    };
  }
  return wrapped as Impl;
}

async function* mapIterable<T>(source: AsyncIterable<T>, map: (err: unknown) => unknown): AsyncIterable<T> {
  try {
    yield* source;
  } catch (err) {
    throw map(err);
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

function upperFirst(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
