/**
 * @mitos/runtime: the composition root. It chooses and opens an engine driver, runs the host
 * checks the drivers register, and serves the API the server package builds over the engine.
 *
 * @example
 * await runServe({ host: '127.0.0.1', port: 8080, apiKeys: [] });
 * @module
 */
export { runDoctor } from './doctor.js';
export {
  DEFAULT_WARM_POOL_SIZE,
  describeEngine,
  ENGINE_KINDS,
  type EngineKind,
  type OpenEngineOptions,
  openEngine,
} from './open-engine.js';
export { type OpenWorkspacesOptions, openWorkspaces } from './open-workspaces.js';
export { runServe, type ServeOptions } from './serve.js';
export {
  installService,
  readApiKeyFile,
  renderServiceUnit,
  SERVICE_KEY_PATH,
  SERVICE_UNIT_PATH,
  type ServiceInstall,
  type ServiceOptions,
  serviceChecks,
} from './service.js';
export { defaultStateDir } from './state-dir.js';
