/**
 * E2B's in-sandbox conventions: commands and file operations run as the sandbox's default
 * account unless the client names another: `user` (uid 1000, home /home/user), or the account
 * an E2B template's last `setUser` named. Images that do not carry `user` get it at create (one
 * exec); every envd call waits for that step.
 */
import type { Engine } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import { DEFAULT_USER } from './context.js';

/** An account inside the sandbox, as its /etc/passwd has it. */
export interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export const ROOT: Account = { name: 'root', uid: 0, gid: 0, home: '/root' };
export const USER: Account = { ...DEFAULT_USER };

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

/**
 * The account an envd request acts as: `Authorization: Basic base64(name:)` or an explicit
 * name; none names the sandbox's default account (`fallback`).
 */
export function accountFrom(
  authorization: string | undefined | null,
  explicit?: string | null,
  fallback: Account = USER,
): Account {
  let name = explicit ?? undefined;
  if (name === undefined && authorization?.startsWith('Basic ')) {
    const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
    name = decoded.split(':', 1)[0];
  }
  if (name === undefined || name === '') return fallback;
  if (name === fallback.name) return fallback;
  if (name === USER.name) return USER;
  if (name === ROOT.name) return ROOT;
  const known = [...new Set([USER.name, ROOT.name, fallback.name])].map((n) => `"${n}"`).join(', ');
  throw new MitosError('invalid_request', `unknown user ${JSON.stringify(name)}: this sandbox has ${known}`);
}

// Ids a sandbox maps (its user namespace holds 65536); anything else is a malformed entry.
const isSandboxId = (id: number) => Number.isInteger(id) && id >= 0 && id < 65536;

/** Finds `name` in the sandbox's /etc/passwd (a template's own account). */
export async function lookupAccount(engine: Engine, sandboxId: string, name: string): Promise<Account> {
  if (name === ROOT.name) return ROOT;
  const passwd = (await engine.files.read(sandboxId, '/etc/passwd')).toString('utf8');
  for (const line of passwd.split('\n')) {
    const [entry, , uid, gid, , home] = line.split(':');
    if (entry !== name || !/^\d{1,5}$/.test(uid ?? '') || !/^\d{1,5}$/.test(gid ?? '') || home === undefined) continue;
    const account = { name, uid: Number(uid), gid: Number(gid), home: home || '/' };
    if (isSandboxId(account.uid) && isSandboxId(account.gid) && home.startsWith('/')) return account;
  }
  throw new MitosError(
    'invalid_request',
    `the template's user ${JSON.stringify(name)} has no valid entry in the sandbox's /etc/passwd`,
    { user: name },
    { remediation: 'create the account in a build step before setUser names it' },
  );
}

export function homeOf(account: Account): string {
  return account.home;
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

/**
 * `argv` run as `account`: the command line and the engine's `user` option, which has the agent
 * take the account's uid, gid and groups (from the sandbox's passwd and group) before it starts
 * the command, as envd does; root needs neither.
 */
export function asAccount(account: Account, argv: readonly string[]): { command: string; user?: string } {
  const command = `exec ${argv.map(shellQuote).join(' ')}`;
  if (account.uid === 0 && account.gid === 0) return { command };
  return { command, user: account.name };
}

export function accountEnv(account: Account): Record<string, string> {
  return { HOME: account.home, USER: account.name, LOGNAME: account.name };
}
