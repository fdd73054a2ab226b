/**
 * What a node daemon serves (crd-v1.md 11.2): the sandbox routes alone, on one port, and the
 * node's control routes, which the daemon registers, on another. There is no surface of the
 * public server here: no templates, sandbox create or list, live fork, previews, forwards,
 * workspaces, events, console, E2B or Connect. Both apps answer through the public server's
 * auth and error responder, so a node speaks the one envelope and the protocol's codes.
 */
import type { Engine } from '@mitos/engine';
import type { Logger } from 'pino';
import type { ApiServer } from './app.js';
import { sandboxRouteDeps } from './app.js';
import { apiServerOf, baseApp } from './app-base.js';
import { createLogger } from './logging.js';
import { bearerAuth, normalizeApiKeys, type SandboxTokenVerifier } from './middleware/auth.js';
import { createTerminalSocketServer } from './pty/websocket.js';
import { registerExecRoutes } from './routes/exec.js';
import { registerExecStreamRoutes } from './routes/exec-stream.js';
import { registerFileRoutes } from './routes/files.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerLifecycleRoutes } from './routes/lifecycle.js';
import { registerMeteringRoutes } from './routes/metering.js';
import { registerNetworkRoutes } from './routes/network.js';
import { registerProcessRoutes } from './routes/processes.js';
import { registerPtyRoutes } from './routes/pty.js';
import { registerRunCodeRoutes } from './routes/run-code.js';
import { createRouter, type Router } from './routing.js';

export interface NodeSandboxApiDeps {
  engine: Engine;
  /** Opens the routes that name no sandbox (health, metering). */
  nodeKey: string;
  /** A request that names a sandbox needs that sandbox's own token (middleware/auth.ts). */
  sandboxTokens: SandboxTokenVerifier;
  logger?: Logger;
  version?: string;
  /** Ceiling for exec, run_code and set_timeout seconds; 0 = none. Default 86400. */
  maxExecTimeoutSeconds?: number;
  /** Concurrent streams and terminals per sandbox; 0 = unlimited. Default 16. */
  maxStreamsPerSandbox?: number;
}

/** The sandbox API of a node: what the SDK's direct handle on a cluster sandbox calls. */
export function createNodeSandboxApi(deps: NodeSandboxApiDeps): ApiServer {
  const apiKeys = normalizeApiKeys([deps.nodeKey]);
  const logger = deps.logger ?? createLogger();
  const { engine } = deps;
  const routeDeps = sandboxRouteDeps(deps, logger);
  const terminals = createTerminalSocketServer();
  const { app, respondError } = baseApp(logger, apiKeys);
  app.use('*', bearerAuth(apiKeys, deps.sandboxTokens));
  const router = createRouter(app, respondError);
  registerHealthRoutes(router, routeDeps);
  registerExecRoutes(router, routeDeps);
  registerExecStreamRoutes(router, routeDeps);
  registerRunCodeRoutes(router, routeDeps);
  registerFileRoutes(router, routeDeps);
  registerLifecycleRoutes(router, routeDeps);
  registerProcessRoutes(router, routeDeps);
  registerNetworkRoutes(router, routeDeps);
  registerMeteringRoutes(router, routeDeps);
  registerPtyRoutes(router, routeDeps, terminals);

  const unsubscribe = engine.onSandboxGone((id) => routeDeps.streams.abortSandbox(id));
  return apiServerOf(app, () => {
    unsubscribe();
    routeDeps.streams.abortAll();
    terminals.close();
  });
}

export interface NodeControlApiDeps {
  /** The only credential of the control routes. */
  nodeKey: string;
  logger?: Logger;
  /** The daemon's control routes, registered behind the node key. */
  register(router: Router): void;
}

/** The control API of a node (the controller's calls), on the same auth and error responder. */
export function createNodeControlApi(deps: NodeControlApiDeps): ApiServer {
  const apiKeys = normalizeApiKeys([deps.nodeKey]);
  const { app, respondError } = baseApp(deps.logger ?? createLogger(), apiKeys);
  // The kubelet's probe carries no key; it learns only that the process answers.
  app.get('/healthz', (c) => c.text('ok'));
  app.use('*', bearerAuth(apiKeys));
  deps.register(createRouter(app, respondError));
  return {
    app,
    // Nothing here upgrades: a WebSocket attempt is dropped.
    handleUpgrade: (_incoming, socket) => socket.destroy(),
    close: () => {},
  };
}
