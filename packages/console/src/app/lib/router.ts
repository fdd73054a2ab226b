/**
 * Hash routes (`#/sandboxes/<id>`): the server serves one page, so any view can be reloaded
 * or bookmarked without a server-side fallback, and nothing secret ever enters the path.
 */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { view: 'sandboxes' }
  | { view: 'sandbox'; id: string; tab: string }
  | { view: 'tree'; id: string }
  | { view: 'templates' }
  | { view: 'server' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'sandboxes' && parts[1]) return { view: 'sandbox', id: parts[1], tab: parts[2] ?? 'terminal' };
  if (parts[0] === 'tree' && parts[1]) return { view: 'tree', id: parts[1] };
  if (parts[0] === 'templates') return { view: 'templates' };
  if (parts[0] === 'server') return { view: 'server' };
  return { view: 'sandboxes' };
}

export function href(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join('/')}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
