/**
 * The login profile `mitos auth login` writes and every client reads (wire-v1.md 1.1):
 * `$MITOS_CONFIG_DIR/credentials.json`, else `~/.config/mitos/credentials.json`.
 * @module
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** Only `token` is standard; `base_url` is a mitos addition the CLI may save at login. */
export interface Credentials {
  token?: string;
  base_url?: string;
  [field: string]: unknown;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Where the credentials file lives, or undefined when no home directory can be found. */
export function credentialsPath(env: Env = process.env): string | undefined {
  const dir = env.MITOS_CONFIG_DIR;
  if (dir) return join(dir, 'credentials.json');
  let home = '';
  try {
    home = homedir();
  } catch {
    // No passwd entry and no HOME (some containers): there is simply no file fallback.
  }
  return home ? join(home, '.config', 'mitos', 'credentials.json') : undefined;
}

/**
 * Read the credentials file. A missing, unreadable or malformed file yields undefined and
 * never throws: a broken profile must not stop a client that has its key from elsewhere.
 */
export function readCredentials(env: Env = process.env): Credentials | undefined {
  const path = credentialsPath(env);
  if (!path) return undefined;
  try {
    const doc: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
    return doc as Credentials;
  } catch {
    return undefined;
  }
}

/**
 * Write the credentials file with mode 0600 (directory 0700) and return its path.
 * The file is written beside the target and renamed over it, so a pre-existing file with
 * looser permissions never holds the new token, and a crash never leaves half a file.
 */
export function writeCredentials(creds: Credentials, env: Env = process.env): string {
  const path = credentialsPath(env);
  if (!path) throw new Error('cannot locate the credentials file: set MITOS_CONFIG_DIR or HOME');
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return path;
}
