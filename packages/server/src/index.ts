/**
 * @mitos/server: the HTTP API over the engine, speaking the seed wire protocol v1.
 *
 * @example
 * const server = await startServer({ engine, db, port: 0 });
 * console.log(server.url); // http://127.0.0.1:41234
 * await server.close();
 * await engine.close();
 */
export { type ApiServer, type AppDeps, createApiServer, createApp, DEFAULT_MAX_EXEC_TIMEOUT_SECONDS } from './app.js';
export type { AppEnv } from './env.js';
export { IDEMPOTENCY_TTL_MS, IdempotencyStore } from './idempotency.js';
export { readJson } from './json-body.js';
export { formatHost, listen } from './listen.js';
export { createLogger } from './logging.js';
export type { HttpMount } from './mounts.js';
export {
  createNodeControlApi,
  createNodeSandboxApi,
  type NodeControlApiDeps,
  type NodeSandboxApiDeps,
} from './node-app.js';
export type { Router } from './routing.js';
export { type ListenOptions, listenApi, type RunningServer, type ServerOptions, startServer } from './server.js';
