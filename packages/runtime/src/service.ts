/**
 * mitos as a systemd service on a plain Linux host: `mitos install` writes the unit, a
 * root-only API key file and the state directory; `mitos doctor` checks what it wrote.
 * Everything takes a root directory, so a test (or an image build) can write into a tree that
 * is not this machine's /.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostCheck } from '@mitos/engine';

export const SERVICE_UNIT_PATH = '/etc/systemd/system/mitos.service';
export const SERVICE_KEY_PATH = '/etc/mitos/api-key';
export const SERVICE_STATE_DIR = '/var/lib/mitos';

export interface ServiceOptions {
  /** The tree to write into; default `/`. Paths inside the unit are always absolute on the target. */
  rootDir?: string;
  stateDir?: string;
  host?: string;
  port?: number;
  /** The Node binary and the CLI entry the unit runs. */
  nodePath: string;
  cliPath: string;
}

export interface ServiceInstall {
  unitPath: string;
  keyPath: string;
  stateDir: string;
  /** False when a key file was already there (it is kept: clients already hold that key). */
  keyCreated: boolean;
}

/** The unit text. Quoting: systemd splits ExecStart like a shell, so paths with spaces are quoted. */
export function renderServiceUnit(o: Omit<ServiceOptions, 'rootDir'>): string {
  const q = (s: string) => (/[\s"'\\]/.test(s) ? `"${s.replace(/(["\\])/g, '\\$1')}"` : s);
  const stateDir = o.stateDir ?? SERVICE_STATE_DIR;
  const exec = [o.nodePath, o.cliPath, 'serve', '--host', o.host ?? '127.0.0.1', '--port', String(o.port ?? 8080)];
  return `# Written by \`mitos install\`; \`mitos doctor\` checks it. Edit with \`systemctl edit mitos\`.
[Unit]
Description=mitos server: isolated, forkable sandboxes for AI agents
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=${exec.map(q).join(' ')} --state-dir ${q(stateDir)}
Environment=MITOS_STATE_DIR=${q(stateDir)}
# The accepted API key, read by the server at start; the file is root-only (0600).
Environment=MITOS_API_KEY_FILE=${SERVICE_KEY_PATH}
Restart=on-failure
RestartSec=2s
# Only the server is stopped on restart: sandboxes keep running and the next start reattaches
# them (the engine gives each one its own cgroup; systemd must not kill them with the server).
KillMode=process
Delegate=yes
TasksMax=infinity
LimitNOFILE=1048576
TimeoutStopSec=30s

[Install]
WantedBy=multi-user.target
`;
}

/** Writes the unit, the key (only if absent) and the state directory under `rootDir`. */
export function installService(o: ServiceOptions): ServiceInstall {
  const root = o.rootDir ?? '/';
  const unitPath = join(root, SERVICE_UNIT_PATH);
  const keyPath = join(root, SERVICE_KEY_PATH);
  const stateDir = join(root, o.stateDir ?? SERVICE_STATE_DIR);
  mkdirSync(join(unitPath, '..'), { recursive: true });
  mkdirSync(join(keyPath, '..'), { recursive: true, mode: 0o700 });
  chmodSync(join(keyPath, '..'), 0o700);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  let keyCreated = false;
  if (!existsSync(keyPath)) {
    // flag wx: never replace a key another install wrote between the check and here.
    writeFileSync(keyPath, `sk-${randomBytes(24).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    keyCreated = true;
  }
  chmodSync(keyPath, 0o600);
  writeFileSync(unitPath, renderServiceUnit(o), { mode: 0o644 });
  return { unitPath, keyPath, stateDir, keyCreated };
}

/**
 * The keys in an API key file, one per line. A file others can read is refused (as ssh refuses
 * a readable private key): a leaked key is every sandbox on the host.
 */
export function readApiKeyFile(path: string): string[] {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (err) {
    throw new Error(`cannot read the API key file ${path} (MITOS_API_KEY_FILE): ${(err as Error).message}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new Error(
      `the API key file ${path} is readable by others (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${path}`,
    );
  }
  const keys = readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  if (keys.length === 0) throw new Error(`the API key file ${path} holds no key; the server would accept anyone`);
  return keys;
}

/** `mitos doctor`: the installed unit, if any, and what it points at. */
export function serviceChecks(rootDir = '/'): HostCheck[] {
  const unitPath = join(rootDir, SERVICE_UNIT_PATH);
  const name = 'systemd service';
  if (!existsSync(unitPath)) {
    return [{ name, ok: true, detail: `not installed (optional: \`mitos install\` writes ${SERVICE_UNIT_PATH})` }];
  }
  const fix = 'sudo mitos install (rewrites the unit and keeps the existing key)';
  const unit = readFileSync(unitPath, 'utf8');
  const value = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(unit)?.[1]?.trim();
  const checks: HostCheck[] = [];
  const exec = value('ExecStart') ?? '';
  const problems: string[] = [];
  if (!/\sserve(\s|$)/.test(exec)) problems.push('ExecStart does not run `mitos serve`');
  const binary = exec.split(/\s+/)[0] ?? '';
  if (binary && !existsSync(join(rootDir, binary))) problems.push(`${binary} does not exist`);
  if (value('Restart') !== 'on-failure' && value('Restart') !== 'always') problems.push('no Restart=on-failure');
  checks.push({
    name,
    ok: problems.length === 0,
    detail: problems.join('; ') || `${SERVICE_UNIT_PATH} runs mitos serve`,
    fix,
  });
  const keyEnv = /^Environment=MITOS_API_KEY_FILE=(\S+)$/m.exec(unit)?.[1];
  if (!keyEnv) {
    checks.push({
      name: 'service API key',
      ok: false,
      detail: 'the unit sets no MITOS_API_KEY_FILE: the server accepts anyone',
      fix,
    });
  } else {
    try {
      const keyPath = join(rootDir, keyEnv);
      const owner = statSync(keyPath).uid;
      readApiKeyFile(keyPath);
      checks.push({
        name: 'service API key',
        ok: owner === 0,
        detail: owner === 0 ? `${keyEnv} is root-only` : `${keyEnv} is owned by uid ${owner}, not root`,
        fix: `chown root:root ${keyEnv} && chmod 600 ${keyEnv}`,
      });
    } catch (err) {
      checks.push({ name: 'service API key', ok: false, detail: (err as Error).message, fix });
    }
  }
  const stateDir = /^Environment=MITOS_STATE_DIR=(\S+)$/m.exec(unit)?.[1] ?? SERVICE_STATE_DIR;
  const stateOk = existsSync(join(rootDir, stateDir));
  checks.push({
    name: 'service state directory',
    ok: stateOk,
    detail: stateOk ? stateDir : `${stateDir} does not exist`,
    fix: `mkdir -m 700 -p ${stateDir}`,
  });
  return checks;
}
