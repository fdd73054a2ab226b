/**
 * The web console's static files under /console, and the redirect that sends a browser
 * opening `/` there. The file table is read once at startup from the built bundle, and only
 * paths in it are served: a request path is a key to look up, never joined onto a directory,
 * so no spelling of `..` can reach outside the bundle. The page itself holds no data; it asks
 * for the API key and then calls /v1 like any client, so these routes sit before auth.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { MitosError } from '@mitos/protocol';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env.js';

export const CONSOLE_PATH = '/console';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

/**
 * The page loads only its own files; run-code HTML output renders in a sandboxed frame
 * (`srcdoc`, no scripts), and images arrive as data: URLs.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  // xterm.js positions its rows with inline styles.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "frame-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

interface Asset {
  body: Buffer;
  type: string;
  /** Vite names bundle files by content hash, so they never change under the same name. */
  immutable: boolean;
}

/** url path (e.g. `/console/assets/index-abc.js`) -> file. Empty when the bundle is not built. */
export function loadConsoleAssets(dir: string | undefined): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (dir === undefined) return assets;
  for (const file of walk(dir)) {
    const type = CONTENT_TYPES[extname(file)];
    if (type === undefined) continue;
    const urlPath = `${CONSOLE_PATH}/${relative(dir, file).split(sep).join('/')}`;
    assets.set(urlPath, { body: readFileSync(file), type, immutable: urlPath.startsWith(`${CONSOLE_PATH}/assets/`) });
  }
  const index = assets.get(`${CONSOLE_PATH}/index.html`);
  if (index) assets.set(`${CONSOLE_PATH}/`, index);
  return assets;
}

export function consoleRoutes(assets: Map<string, Asset>): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const path = c.req.path;
    if (path === '/' && prefersHtml(c.req.header('Accept')) && isRead(c.req.method)) {
      return c.redirect(`${CONSOLE_PATH}/`, 302);
    }
    if (path !== CONSOLE_PATH && !path.startsWith(`${CONSOLE_PATH}/`)) return next();
    if (path === CONSOLE_PATH) return c.redirect(`${CONSOLE_PATH}/`, 301);
    if (!isRead(c.req.method)) {
      throw new MitosError('method_not_allowed', `${c.req.method} is not allowed on ${CONSOLE_PATH}; use GET`);
    }
    const asset = assets.get(path);
    if (asset === undefined) {
      if (assets.size === 0) {
        throw new MitosError(
          'not_found',
          'the web console is not built into this installation',
          {},
          { remediation: 'run `npm run build` in the mitos checkout, then restart `mitos serve`' },
        );
      }
      throw new MitosError('not_found', `no console file at ${JSON.stringify(path)}`);
    }
    c.header('Content-Type', asset.type);
    c.header('Cache-Control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    if (asset.type.startsWith('text/html')) {
      c.header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
      c.header('X-Frame-Options', 'DENY');
    }
    return c.req.method === 'HEAD' ? c.body(null) : c.body(new Uint8Array(asset.body));
  };
}

function isRead(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

/** A browser navigation: text/html named explicitly (API clients send JSON or nothing). */
function prefersHtml(accept: string | undefined): boolean {
  return accept !== undefined && /(^|,)\s*text\/html\s*(;|,|$)/i.test(accept);
}

function* walk(dir: string): Generator<string> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const full = join(dir, name);
    const stat = statSync(full);
    if (stat.isDirectory()) yield* walk(full);
    else if (stat.isFile()) yield full;
  }
}
