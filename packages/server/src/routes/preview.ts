/**
 * Previews (wire-v1.md 4.19, docs/api-extensions.md): POST /v1/preview mints a signed URL for
 * one sandbox port, and the proxy serves it. Path form `/preview/<token>/...` by default; host
 * form `https://<id>.preview.<domain>/?token=...` when a preview domain is configured, where
 * the token moves into a cookie after the first request so the page's own links keep working.
 * The token is the only credential: these paths bypass bearer auth (app.ts).
 */
import type { SandboxInfo } from '@mitos/engine';
import { MitosError, PreviewRequestSchema } from '@mitos/protocol';
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv, RouteDeps } from '../env.js';
import { readJson } from '../json-body.js';
import { endpointFor, requireSandbox, sandboxIdOf } from '../lookup.js';
import { cookieValue, type Forwarding, PREVIEW_COOKIE } from '../preview/headers.js';
import { exchangeWithGuest } from '../preview/proxy-http.js';
import { relayUpgrade } from '../preview/proxy-ws.js';
import { instanceNonce, type PreviewClaims } from '../preview/token.js';
import type { Router } from '../routing.js';
import { upgradedResponse, upgradeOf } from '../upgrade.js';

export const PATH_PREFIX = '/preview/';
export const DEFAULT_PREVIEW_TTL_SECONDS = 3600;

const nowUnix = () => Math.floor(Date.now() / 1000);

export function isPreviewPath(path: string): boolean {
  return path.startsWith(PATH_PREFIX);
}

export function registerPreviewRoutes(router: Router, deps: RouteDeps): void {
  const { engine, preview } = deps;

  router.route('/v1/preview', {
    POST: (c) => {
      const body = readJson(c, PreviewRequestSchema);
      const sandbox = requireSandbox(c, engine, body.sandbox);
      const expiresUnix = nowUnix() + preview.ttlSeconds;
      const token = preview.signer.sign({
        sandbox: body.sandbox,
        port: body.port,
        expiresUnix,
        instance: instanceNonce(sandbox),
      });
      const url = preview.domain
        ? `https://${body.sandbox.toLowerCase()}.preview.${preview.domain}/?token=${token}`
        : `${endpointFor(c, deps.publicUrl)}${PATH_PREFIX}${token}/`;
      return c.json({ url, expires_unix: expiresUnix });
    },
  });

  const pathForm = async (c: Context<AppEnv>) => {
    const token = c.req.param('token') ?? '';
    const claims = preview.signer.verify(token, nowUnix());
    const url = new URL(c.req.url);
    const prefix = `${PATH_PREFIX}${token}`;
    const rest = url.pathname.slice(prefix.length);
    // Without the slash, the page's relative links would resolve outside the preview.
    if (rest === '' && !upgradeOf(c) && (c.req.method === 'GET' || c.req.method === 'HEAD')) {
      return c.redirect(`${prefix}/${url.search}`, 308);
    }
    return serve(c, deps, claims, `${rest || '/'}${url.search}`, {
      port: claims.port,
      publicHost: c.req.header('host'),
      publicProto: url.protocol === 'https:' ? 'https' : 'http',
      prefix,
    });
  };
  router.all(`${PATH_PREFIX}:token`, pathForm);
  router.all(`${PATH_PREFIX}:token/*`, pathForm);
}

/** Serves host-form previews before auth; other hosts pass through. */
export function previewHostProxy(deps: RouteDeps, domain: string): MiddlewareHandler<AppEnv> {
  const suffix = `.preview.${domain.toLowerCase()}`;
  return async (c, next) => {
    const host = (c.req.header('host') ?? '').toLowerCase().replace(/:\d+$/, '');
    const label = host.endsWith(suffix) ? host.slice(0, -suffix.length) : '';
    if (label === '' || label.includes('.')) return next();
    const url = new URL(c.req.url);
    const fromQuery = url.searchParams.get('token');
    const token = fromQuery ?? cookieValue(c.req.header('cookie'), PREVIEW_COOKIE);
    if (!token)
      throw new MitosError('forbidden', 'preview token missing: open the URL POST /v1/preview gave', { op: 'preview' });
    const now = nowUnix();
    const claims = deps.preview.signer.verify(token, now, label);
    const search = withoutTokenParam(url.search);
    const res = await serve(c, deps, claims, `${url.pathname}${search}`, {
      port: claims.port,
      publicHost: c.req.header('host'),
      publicProto: 'https',
    });
    if (fromQuery !== null && !upgradeOf(c)) {
      const maxAge = Math.max(0, claims.expiresUnix - now);
      res.headers.append(
        'Set-Cookie',
        `${PREVIEW_COOKIE}=${token}; Path=/; Max-Age=${maxAge}; HttpOnly; Secure; SameSite=Lax`,
      );
    }
    return res;
  };
}

async function serve(
  c: Context<AppEnv>,
  { engine }: RouteDeps,
  claims: PreviewClaims,
  path: string,
  forwarding: Forwarding,
): Promise<Response> {
  sandboxIdOf(c, claims.sandbox);
  // The engine's lookup is the only one; the token's instance is checked before it connects.
  const sameInstance = (sandbox: SandboxInfo) => {
    if (claims.instance !== instanceNonce(sandbox)) {
      throw new MitosError('forbidden', 'preview token was minted for an earlier sandbox with this id', {
        op: 'preview',
      });
    }
  };
  const connection = await engine
    .connectPort(claims.sandbox, claims.port, { onAccepted: sameInstance })
    .catch((err: unknown) => {
      throw unreachable(err, claims);
    });
  const upgrade = upgradeOf(c);
  if (upgrade) {
    upgrade.claim();
    relayUpgrade(upgrade, connection, path, forwarding);
    return upgradedResponse();
  }
  try {
    return await exchangeWithGuest({ connection, request: c.req.raw, path, forwarding });
  } catch (err) {
    throw unreachable(err, claims);
  }
}

/** Nothing listening (or it hung up) is the app's state, not a server fault. */
function unreachable(err: unknown, claims: PreviewClaims): MitosError {
  if (err instanceof MitosError) return err;
  return new MitosError(
    'not_found',
    `nothing answered on port ${claims.port} in sandbox "${claims.sandbox}"; is the server inside running?`,
    { sandbox: claims.sandbox, port: claims.port },
    { cause: err },
  );
}

/** The query without `token`, byte for byte otherwise (URLSearchParams would re-encode it). */
function withoutTokenParam(search: string): string {
  const kept = search
    .slice(1)
    .split('&')
    .filter((part) => part !== '' && part.split('=', 1)[0] !== 'token');
  return kept.length > 0 ? `?${kept.join('&')}` : '';
}
