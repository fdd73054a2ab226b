/**
 * Traffic to a port inside a sandbox, as E2B addresses it: the host `<port>-<id>.<domain>`
 * (what `sandbox.getHost(port)` returns), or the `E2b-Sandbox-Port` header. E2B's default is
 * public traffic: the unguessable sandbox id is the address; a sandbox created with
 * `allowPublicTraffic: false` also needs its `E2B-Traffic-Access-Token`.
 */

import { MitosError } from '@mitos/protocol';
import type { Context } from 'hono';
import type { AppEnv } from '../env.js';
import { exchangeWithGuest } from '../preview/proxy-http.js';
import { relayUpgrade } from '../preview/proxy-ws.js';
import { upgradedResponse, upgradeOf } from '../upgrade.js';
import type { E2bContext } from './context.js';

const HOST_ROUTE = /^(\d{1,5})-([a-z0-9]{1,64})\./;
/** Our credentials never travel on to the server inside. */
const STRIPPED = ['x-access-token', 'e2b-traffic-access-token', 'x-api-key', 'e2b-sandbox-id', 'e2b-sandbox-port'];

export function hostRoute(host: string | undefined): { port: number; sandboxId: string } | undefined {
  const m = HOST_ROUTE.exec((host ?? '').toLowerCase());
  if (!m) return undefined;
  const port = Number(m[1]);
  if (port < 1 || port > 65535) return undefined;
  return { port, sandboxId: m[2] as string };
}

/** The E2B row's traffic rule; whether the sandbox is live is the engine call's to decide. */
export function checkTraffic(ctx: E2bContext, sandboxId: string, req: Request): void {
  const row = ctx.store.get(sandboxId);
  if (row === undefined) throw new MitosError('not_found', `sandbox "${sandboxId}" not found`);
  if (row.publicTraffic) return;
  if (!ctx.credentials.verifyTrafficToken(sandboxId, req.headers.get('e2b-traffic-access-token') ?? undefined)) {
    throw new MitosError(
      'forbidden',
      'this sandbox takes port traffic only with its traffic access token',
      {},
      {
        remediation: 'send the E2B-Traffic-Access-Token header (sandbox.trafficAccessToken)',
      },
    );
  }
}

export async function proxyToPort(
  ctx: E2bContext,
  c: Context<AppEnv>,
  sandboxId: string,
  port: number,
  path: string,
): Promise<Response> {
  checkTraffic(ctx, sandboxId, c.req.raw);
  // The engine's lookup is the one read: its refusals (absent, paused) pass as they are; a
  // failure once it has accepted means nothing listens on the port.
  let accepted = false;
  const connection = await ctx.engine
    .connectPort(sandboxId, port, { onAccepted: () => (accepted = true) })
    .catch((err: unknown) => {
      throw accepted ? notListening(sandboxId, port, err) : err;
    });
  const forwarding = { port, publicHost: c.req.header('host'), publicProto: 'http' as const };
  const upgrade = upgradeOf(c);
  if (upgrade) {
    upgrade.claim();
    relayUpgrade(upgrade, connection, path, forwarding);
    return upgradedResponse();
  }
  const headers = new Headers(c.req.raw.headers);
  for (const name of STRIPPED) headers.delete(name);
  const request = new Request(c.req.raw, { headers });
  try {
    return await exchangeWithGuest({ connection, request, path, forwarding });
  } catch (err) {
    throw notListening(sandboxId, port, err);
  }
}

/** E2B answers 502 when nothing listens on the port; clients read that as "port not open". */
function notListening(sandboxId: string, port: number, cause: unknown): MitosError {
  return new MitosError(
    'not_found',
    `nothing answered on port ${port} in sandbox "${sandboxId}"`,
    {},
    { status: 502, cause },
  );
}
