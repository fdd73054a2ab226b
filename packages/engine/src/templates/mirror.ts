/**
 * Which Debian mirror debootstrap downloads from. The host's own apt configuration is the best
 * guess: it is known to be reachable from here (it may be a local proxy or a snapshot archive).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const FALLBACK_MIRROR = 'http://deb.debian.org/debian';

/** First `URIs:` of a deb822 stanza that serves binary packages and is not the security archive. */
export function mirrorFromDeb822(text: string): string | undefined {
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string): string | undefined => {
      const m = new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza);
      return m?.[1]?.trim();
    };
    if (/^enabled:\s*no/im.test(stanza)) continue;
    const types = field('Types')?.split(/\s+/) ?? [];
    if (!types.includes('deb')) continue;
    const uri = field('URIs')?.split(/\s+/)[0];
    if (uri && !isSecurityArchive(uri)) return uri;
  }
  return undefined;
}

/** First `deb` line of a one-line-style sources.list (options in brackets allowed). */
export function mirrorFromSourcesList(text: string): string | undefined {
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/.exec(line);
    if (m?.[1] && !isSecurityArchive(m[1])) return m[1];
  }
  return undefined;
}

// The security archive only carries updates; debootstrap cannot bootstrap from it.
function isSecurityArchive(uri: string): boolean {
  return /security/.test(uri);
}

/** options.mirror, then MITOS_DEBIAN_MIRROR, then the host's apt sources, then deb.debian.org. */
export function resolveMirror(explicit?: string, env: NodeJS.ProcessEnv = process.env, aptDir = '/etc/apt'): string {
  if (explicit) return explicit;
  if (env.MITOS_DEBIAN_MIRROR) return env.MITOS_DEBIAN_MIRROR;
  const listDir = join(aptDir, 'sources.list.d');
  let names: string[] = [];
  try {
    names = readdirSync(listDir)
      .filter((n) => n.endsWith('.sources'))
      .sort();
  } catch {
    // No sources.list.d: fall through to sources.list.
  }
  for (const name of names) {
    const uri = readOrEmpty(join(listDir, name));
    const found = mirrorFromDeb822(uri);
    if (found) return found;
  }
  return mirrorFromSourcesList(readOrEmpty(join(aptDir, 'sources.list'))) ?? FALLBACK_MIRROR;
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
