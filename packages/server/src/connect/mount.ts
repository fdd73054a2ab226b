/**
 * The Connect sandbox.v1.Sandbox service on the API's own port: POST
 * /sandbox.v1.Sandbox/<Method> (Connect and gRPC-Web, JSON and binary) goes to the Connect
 * handlers, GET /sandbox.v1.Sandbox/Exec with a WebSocket upgrade to the terminal. The auth
 * middleware has run before either (the sandbox a call names is its X-Sandbox-Id header).
 */
import { createConnectRouter } from '@connectrpc/connect';
import { createFetchHandler } from '@connectrpc/connect/protocol';
import { MAX_BODY_BYTES, MitosError } from '@mitos/protocol';
import type { WebSocketServer } from 'ws';
import type { RouteDeps } from '../env.js';
import type { Router } from '../routing.js';
import { Sandbox } from './gen/sandbox/v1/sandbox_pb.js';
import { sandboxService } from './service.js';
import { createExecSocketServer, execOverWebSocket } from './terminal.js';

export const CONNECT_PATH_PREFIX = `/${Sandbox.typeName}/`;

export interface ConnectMount {
  /** Closes the terminal WebSocket server (its sockets are cut by the upgrade dispatcher). */
  close(): void;
}

export function registerConnectRoutes(router: Router, deps: RouteDeps, secrets: readonly string[]): ConnectMount {
  const connect = createConnectRouter({
    // gRPC needs HTTP/2 trailers, which this HTTP/1.1 server cannot send.
    grpc: false,
    readMaxBytes: MAX_BODY_BYTES,
  });
  connect.service(Sandbox, sandboxService(deps, secrets));
  const handlers = new Map(connect.handlers.map((h) => [h.requestPath, createFetchHandler(h)]));
  const sockets: WebSocketServer = createExecSocketServer();

  router.all(`${CONNECT_PATH_PREFIX}*`, async (c) => {
    if (c.req.method === 'GET' && c.req.path === `${CONNECT_PATH_PREFIX}Exec`) {
      return execOverWebSocket(c, deps, sockets);
    }
    const handler = handlers.get(c.req.path);
    if (handler === undefined) {
      throw new MitosError('not_found', `sandbox.v1.Sandbox has no method ${JSON.stringify(c.req.path)}`);
    }
    c.set('sandboxId', c.req.header('x-sandbox-id'));
    return handler(c.req.raw);
  });
  return { close: () => sockets.close() };
}
