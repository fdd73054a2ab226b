/**
 * The E2B-compatible surface: the unmodified `e2b` and `@e2b/code-interpreter` SDKs work
 * against mitos with E2B_API_URL and E2B_SANDBOX_URL pointing at `<server>/e2b`.
 *
 * One middleware, mounted before the server's own auth (this surface has its own credentials),
 * takes the requests that are E2B's and lets every other request through:
 * - host `<port>-<id>.<domain>`: port traffic (getHost);
 * - `/e2b/...` with `E2b-Sandbox-Id` (or, for SDKs whose REST calls lack it, an envd token):
 *   envd (port 49983: Connect services and REST), the code interpreter (49999), other ports;
 * - `/e2b/...` otherwise: the control plane (`X-API-KEY`);
 * - `/files?signature=...`: signed file URLs (the SDK builds them on the origin, without /e2b).
 */
import { createConnectRouter, createContextValues } from '@connectrpc/connect';
import {
  type UniversalHandler,
  universalServerRequestFromFetch,
  universalServerResponseToFetch,
} from '@connectrpc/connect/protocol';
import type { Engine } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import type { Database } from 'better-sqlite3';
import type { Context, MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { AppEnv } from '../env.js';
import { requestHeader } from '../node-headers.js';
import { Accounts, accountFrom, USER } from './accounts.js';
import { E2bBuilds } from './build-store.js';
import { CodeContexts } from './code-interpreter.js';
import { codeInterpreterRoute } from './code-routes.js';
import { CODE_INTERPRETER_PORT, type E2bContext, ENVD_PORT, liveE2bSandbox, requireRunning } from './context.js';
import { E2bContextStore } from './context-store.js';
import { controlPlane } from './control.js';
import { E2bCredentials } from './credentials.js';
import { filesystemService } from './envd/filesystem-service.js';
import { connectOverNode, unreadRequest } from './envd/node-rpc.js';
import { E2bProcesses } from './envd/process-registry.js';
import { processService } from './envd/process-service.js';
import { ENVD_CALL, type EnvdCall } from './envd/request.js';
import { envdRest } from './envd/rest.js';
import { PollingWatchers } from './envd/watchers.js';
import { e2bErrorResponse } from './errors.js';
import { SandboxEvents } from './events.js';
import { Filesystem } from './gen/filesystem/filesystem_pb.js';
import { Process } from './gen/process/process_pb.js';
import { SandboxLifecycleLock } from './lifecycle-lock.js';
import { checkTraffic, hostRoute, proxyToPort } from './ports.js';
import { sandboxOfSignedRequest } from './signing.js';
import { E2bSnapshots } from './snapshots.js';
import { E2bSandboxStore } from './store.js';
import { E2bTags } from './tags.js';
import { E2bTemplateFiles } from './template-files.js';
import { E2bTemplateOwners } from './templates.js';

export interface E2bOptions {
  engine: Engine;
  db: Database;
  /** The server's API keys; the `e2b_<hex>` ones open this surface. None: any well-formed key. */
  apiKeys: readonly string[];
  logger: Logger;
  /** Ceiling for sandbox timeouts in seconds; 0 = none. */
  maxTimeoutSeconds: number;
  /** The `domain` reported to SDKs (getHost builds `<port>-<id>.<domain>`); default from the request's Host. */
  domain?: string;
}

export interface E2bSurface {
  middleware: MiddlewareHandler<AppEnv>;
  close(): void;
}

const PREFIX = '/e2b';
const KEEPALIVE_HEADER = 'keepalive-ping-interval';

export function createE2bSurface(options: E2bOptions): E2bSurface {
  const { engine, logger } = options;
  if (options.domain !== undefined && !/^[a-z0-9.-]+(:\d+)?$/i.test(options.domain)) {
    throw new MitosError(
      'invalid_request',
      `e2bDomain ${JSON.stringify(options.domain)} is not a host (no scheme or path)`,
    );
  }
  const ctx: E2bContext = {
    engine,
    store: new E2bSandboxStore(options.db),
    credentials: new E2bCredentials(options.db, options.apiKeys),
    events: new SandboxEvents(),
    logger,
    secrets: options.apiKeys,
    maxTimeoutSeconds: options.maxTimeoutSeconds,
    lifecycle: new SandboxLifecycleLock(),
  };
  const accounts = new Accounts(engine);
  const processes = new E2bProcesses();
  const watchers = new PollingWatchers(engine);
  const contextStore = new E2bContextStore(options.db);
  const contexts = new CodeContexts(engine, contextStore);
  const templates = {
    owners: new E2bTemplateOwners(options.db),
    files: new E2bTemplateFiles(options.db),
    builds: new E2bBuilds(options.db),
    tags: new E2bTags(options.db),
    snapshots: new E2bSnapshots(options.db),
  };
  const control = controlPlane(ctx, accounts, templates, options.domain);

  const router = createConnectRouter({
    connect: true,
    grpc: false,
    grpcWeb: false,
    jsonOptions: { ignoreUnknownFields: true },
  });
  router.service(Process, processService(ctx, accounts, processes));
  router.service(Filesystem, filesystemService(ctx, accounts, watchers));
  const rpc = new Map<string, UniversalHandler>(router.handlers.map((h) => [h.requestPath, h]));

  // Rows of sandboxes that are gone for any reason (kill, deadline, crash) go with them.
  for (const id of ctx.store.ids()) if (engine.get(id) === undefined) ctx.store.delete(id);
  for (const id of contextStore.sandboxIds()) if (engine.get(id) === undefined) contexts.forget(id);
  // A snapshot whose hidden copy is gone (a host reboot ends sandboxes) cannot start anything.
  for (const s of templates.snapshots.all()) if (engine.get(s.sandboxId) === undefined) templates.snapshots.drop(s.id);
  const unsubscribe = engine.onSandboxGone((id) => {
    ctx.store.delete(id);
    ctx.events.drop(id);
    accounts.forget(id);
    processes.forget(id);
    watchers.forget(id);
    contexts.forget(id);
    templates.snapshots.forgetSandbox(id);
  });

  /** `who`: where the account is named (none: the sandbox's default account). */
  const envdCall = (
    sandboxId: string,
    header: HeaderOf,
    who: { authorization?: string | null; username?: string | null } = {
      authorization: header('authorization'),
    },
  ): EnvdCall => {
    const { row, info } = liveE2bSandbox(ctx, sandboxId);
    requireRunning(info);
    const keepalive = Number(header(KEEPALIVE_HEADER) ?? '0');
    return {
      sandboxId,
      account: accountFrom(who.authorization, who.username, row.account),
      envVars: row.envVars,
      keepaliveSeconds: Number.isFinite(keepalive) && keepalive > 0 ? keepalive : 0,
    };
  };

  async function sandboxTraffic(c: Context<AppEnv>, path: string, url: URL, header: HeaderOf): Promise<Response> {
    const req = c.req.raw;
    const token = header('x-access-token') ?? undefined;
    const fromToken = ctx.credentials.sandboxOfEnvdToken(token);
    const named = header('e2b-sandbox-id') ?? fromToken;
    const port = Number(header('e2b-sandbox-port') ?? ENVD_PORT);
    if (named === undefined || named === null)
      throw new MitosError('unauthorized', 'no sandbox named (E2b-Sandbox-Id header or X-Access-Token)');
    c.set('sandboxId', named);
    if (port === ENVD_PORT) {
      if (path === '/files' && url.searchParams.has('signature')) {
        const id = sandboxOfSignedRequest(ctx, url, req.method, [named]);
        return envdRest(ctx, accounts, envdCall(id, header, { username: url.searchParams.get('username') }), path, req);
      }
      // envd traffic needs the sandbox's own token: another sandbox's token never opens it.
      if (fromToken !== named)
        throw new MitosError('unauthorized', 'missing or invalid X-Access-Token for this sandbox');
      const handler = rpc.get(path);
      if (handler !== undefined) return connectCall(c, handler, envdCall(named, header));
      return envdRest(
        ctx,
        accounts,
        envdCall(named, header, {
          authorization: header('authorization'),
          username: url.searchParams.get('username'),
        }),
        path,
        req,
      );
    }
    if (port === CODE_INTERPRETER_PORT) {
      // The code interpreter SDK sends X-Access-Token on /execute only; elsewhere E2B's traffic rule holds.
      if (token !== undefined && fromToken !== named)
        throw new MitosError('unauthorized', 'invalid X-Access-Token for this sandbox');
      if (token === undefined) checkTraffic(ctx, named, req);
      return codeInterpreterRoute(ctx, accounts, contexts, envdCall(named, header, { username: USER.name }), path, req);
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new MitosError('invalid_request', 'E2b-Sandbox-Port is not a port');
    return proxyToPort(ctx, c, named, port, `${path}${url.search}`);
  }

  const middleware: MiddlewareHandler<AppEnv> = async (c, next) => {
    const url = new URL(c.req.url);
    // Header reads off node's own request: the fetch Request is built only where a handler needs it.
    const header: HeaderOf = (name) => requestHeader(c, name) ?? null;
    try {
      const byHost = hostRoute(requestHeader(c, 'host'));
      if (byHost !== undefined && ctx.store.get(byHost.sandboxId) !== undefined) {
        c.set('sandboxId', byHost.sandboxId);
        return await proxyToPort(ctx, c, byHost.sandboxId, byHost.port, `${url.pathname}${url.search}`);
      }
      if (url.pathname === '/files' && url.searchParams.has('signature')) {
        const id = sandboxOfSignedRequest(ctx, url, c.req.method, ctx.store.ids());
        c.set('sandboxId', id);
        const call = envdCall(id, header, { username: url.searchParams.get('username') });
        return await envdRest(ctx, accounts, call, '/files', c.req.raw);
      }
      if (url.pathname !== PREFIX && !url.pathname.startsWith(`${PREFIX}/`)) return next();
      const path = url.pathname.slice(PREFIX.length) || '/';
      if (header('e2b-sandbox-id') !== null || (header('x-access-token') !== null && header('x-api-key') === null)) {
        return await sandboxTraffic(c, path, url, header);
      }
      // With node's request and response, so the control plane reads headers and bodies off them.
      return await control.fetch(c.req.raw, c.env);
    } catch (err) {
      return e2bErrorResponse(err, logger, ctx.secrets);
    }
  };

  return {
    middleware,
    close: () => {
      unsubscribe();
      watchers.closeAll();
    },
  };
}

type HeaderOf = (name: string) => string | null;

async function connectCall(c: Context<AppEnv>, handler: UniversalHandler, call: EnvdCall): Promise<Response> {
  const values = createContextValues().set(ENVD_CALL, call);
  const { incoming, outgoing } = c.env ?? {};
  if (incoming !== undefined && outgoing !== undefined && unreadRequest(incoming))
    return connectOverNode(handler, incoming, outgoing, values);
  const ureq = universalServerRequestFromFetch(c.req.raw, { httpVersion: '1.1' });
  ureq.contextValues = values;
  return universalServerResponseToFetch(await handler(ureq));
}
