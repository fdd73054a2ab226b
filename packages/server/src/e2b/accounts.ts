/**
 * E2B's in-sandbox conventions: commands and file operations run as `user` (uid 1000, home
 * /home/user) unless the client names `root`. The account is added to a sandbox when the E2B
 * surface creates it (our templates ship root only); every envd call waits for that step.
 */
import type { Engine } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import { DEFAULT_USER } from './context.js';

export type Account = 'root' | 'user';

// Shell builtins only when the account exists (a fork's or a restarted server's sandboxes, a template
// built through E2B).
export const ACCOUNT_SETUP = [
  `while IFS=: read -r name _; do [ "$name" = ${DEFAULT_USER.name} ] && exit 0; done < /etc/passwd`,
  `echo '${DEFAULT_USER.name}:x:${DEFAULT_USER.uid}:${DEFAULT_USER.gid}::${DEFAULT_USER.home}:/bin/bash' >> /etc/passwd`,
  `echo '${DEFAULT_USER.name}:x:${DEFAULT_USER.gid}:' >> /etc/group`,
  `mkdir -p ${DEFAULT_USER.home} && chown ${DEFAULT_USER.uid}:${DEFAULT_USER.gid} ${DEFAULT_USER.home}`,
].join('\n');

/** Per sandbox, the promise of its account setup; envd calls await it. */
export class Accounts {
  readonly #ready = new Map<string, Promise<void>>();

  constructor(private readonly engine: Engine) {}

  /** Starts the setup; the returned promise rejects if it failed. */
  prepare(sandboxId: string): Promise<void> {
    const ready = this.engine.exec(sandboxId, { command: ACCOUNT_SETUP, timeoutMs: 10_000 }).then((r) => {
      if (r.exitCode !== 0) {
        throw new MitosError('exec_failed', `could not add the "user" account: ${r.stderr.toString().trim()}`);
      }
    });
    // Observed here so a failure before anyone awaits is not an unhandled rejection.
    ready.catch(() => {});
    this.#ready.set(sandboxId, ready);
    return ready;
  }

  /** Resolves once the account exists (sandboxes from before a restart are ready already). */
  ready(sandboxId: string): Promise<void> {
    return this.#ready.get(sandboxId) ?? Promise.resolve();
  }

  forget(sandboxId: string): void {
    this.#ready.delete(sandboxId);
  }
}

/** The account an envd request acts as: `Authorization: Basic base64(name:)`, default `user`. */
export function accountFrom(authorization: string | undefined | null, explicit?: string | null): Account {
  let name = explicit ?? undefined;
  if (name === undefined && authorization?.startsWith('Basic ')) {
    const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
    name = decoded.split(':', 1)[0];
  }
  if (name === undefined || name === '' || name === DEFAULT_USER.name) return 'user';
  if (name === 'root') return 'root';
  throw new MitosError('invalid_request', `unknown user ${JSON.stringify(name)}: this sandbox has "user" and "root"`);
}

export function homeOf(account: Account): string {
  return account === 'root' ? '/root' : DEFAULT_USER.home;
}

/** Relative paths are relative to the account's home, as envd resolves them. */
export function resolvePath(account: Account, path: string): string {
  if (path === '') throw new MitosError('invalid_request', 'path is required');
  if (path.includes('\0')) throw new MitosError('invalid_request', 'path contains a NUL byte');
  const absolute = path.startsWith('/') ? path : `${homeOf(account)}/${path.replace(/^~\/?/, '')}`;
  return normalize(absolute);
}

function normalize(path: string): string {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}

export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `argv` run as `account` (a login-like environment: HOME, USER, LOGNAME). */
export function asAccount(account: Account, argv: readonly string[]): string {
  const quoted = argv.map(shellQuote).join(' ');
  if (account === 'root') return `exec ${quoted}`;
  return `exec setpriv --reuid=${DEFAULT_USER.uid} --regid=${DEFAULT_USER.gid} --init-groups -- ${quoted}`;
}

export function accountEnv(account: Account): Record<string, string> {
  const name = account === 'root' ? 'root' : DEFAULT_USER.name;
  return { HOME: homeOf(account), USER: name, LOGNAME: name };
}
