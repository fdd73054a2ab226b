/**
 * Installs the peer runtimes from Debian when they are missing. Idempotent: a command that is
 * already on PATH is left alone, and nothing runs when all are present.
 * @module
 */
import { spawnSync } from 'node:child_process';

export interface AptResult {
  installed: string[];
  failed?: string;
}

export function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$0"', command], { stdio: 'ignore' }).status === 0;
}

/** `packages` maps a command to the Debian package that provides it. */
export function ensureDebianPackages(packages: Record<string, string>, log: (line: string) => void): AptResult {
  const missing = Object.entries(packages)
    .filter(([command]) => !hasCommand(command))
    .map(([, pkg]) => pkg);
  if (missing.length === 0) return { installed: [] };
  if (process.getuid?.() !== 0) return { installed: [], failed: `not root; cannot install ${missing.join(' ')}` };
  log(`installing peer runtimes from Debian: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-q'], { encoding: 'utf8', env });
  if (update.status !== 0) return { installed: [], failed: `apt-get update failed: ${tail(update.stderr)}` };
  const install = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], {
    encoding: 'utf8',
    env,
  });
  if (install.status !== 0) return { installed: [], failed: `apt-get install failed: ${tail(install.stderr)}` };
  return { installed: missing };
}

function tail(text: string | null): string {
  return (text ?? '').trim().split('\n').slice(-2).join(' / ');
}
