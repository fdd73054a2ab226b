/**
 * Header rewriting at the preview proxy. Hop-by-hop headers stay on their own hop (RFC 9110
 * 7.6.1), except Connection/Upgrade of a WebSocket handshake that is relayed as a whole. The
 * guest server sees `Host: localhost:<port>` (dev servers refuse unknown hosts) and the public
 * host in X-Forwarded-Host; our own token cookie is never passed on.
 */

/** Carries the token of a host-form preview after the first request (which had it in the query). */
export const PREVIEW_COOKIE = 'mitos_preview_token';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export interface Forwarding {
  port: number;
  /** The Host the client used. */
  publicHost: string | undefined;
  publicProto: 'http' | 'https';
  /** The path prefix the proxy removed (path-form previews). */
  prefix?: string;
}

export type HeaderPairs = Array<[string, string]>;

/** Request headers for the guest; `websocket` keeps the handshake's Connection and Upgrade. */
export function toGuestHeaders(
  pairs: Iterable<[string, string]>,
  forwarding: Forwarding,
  websocket: boolean,
): HeaderPairs {
  const list = [...pairs];
  const dropped = droppedNames(list, websocket);
  const out: HeaderPairs = [];
  for (const [name, value] of list) {
    const lower = name.toLowerCase();
    if (lower === 'host' || dropped.has(lower)) continue;
    if (lower === 'cookie') {
      const rest = withoutCookie(value, PREVIEW_COOKIE);
      if (rest !== '') out.push([name, rest]);
      continue;
    }
    out.push([name, value]);
  }
  const has = (name: string) => list.some(([n]) => n.toLowerCase() === name);
  out.push(['Host', `localhost:${forwarding.port}`]);
  // A TLS terminator in front of us knows better than we do; ours only fill the gaps.
  if (forwarding.publicHost && !has('x-forwarded-host')) out.push(['X-Forwarded-Host', forwarding.publicHost]);
  if (!has('x-forwarded-proto')) out.push(['X-Forwarded-Proto', forwarding.publicProto]);
  if (forwarding.prefix) out.push(['X-Forwarded-Prefix', forwarding.prefix]);
  return out;
}

/**
 * Headers a guest may not send when its preview shares the server's origin (path form): a
 * service worker scope wider than the preview's path would sit over the console and the API,
 * and clearing site data would wipe the console's storage.
 */
const SHARED_ORIGIN_DROPPED = ['service-worker-allowed', 'clear-site-data'];

/** Response headers for the client, from Node's flat rawHeaders list. */
export function toClientHeaders(rawHeaders: readonly string[], sharedOrigin = false): Headers {
  const pairs: HeaderPairs = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) pairs.push([rawHeaders[i] as string, rawHeaders[i + 1] as string]);
  const dropped = droppedNames(pairs, false);
  if (sharedOrigin) for (const name of SHARED_ORIGIN_DROPPED) dropped.add(name);
  const headers = new Headers();
  for (const [name, value] of pairs) if (!dropped.has(name.toLowerCase())) headers.append(name, value);
  return headers;
}

/** Hop-by-hop names, plus any the Connection header lists. */
function droppedNames(pairs: HeaderPairs, websocket: boolean): Set<string> {
  const names = new Set(HOP_BY_HOP);
  for (const [name, value] of pairs) {
    if (name.toLowerCase() !== 'connection') continue;
    for (const token of value.split(',')) names.add(token.trim().toLowerCase());
  }
  if (websocket) {
    names.delete('connection');
    names.delete('upgrade');
  }
  return names;
}

export function withoutCookie(header: string, name: string): string {
  return header
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part !== '' && part.split('=', 1)[0] !== name)
    .join('; ');
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}
