// `mitos install` into a temporary root, then the doctor checks over what it wrote.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readApiKeyFile, serviceChecks } from '@mitos/runtime';

const CLI = join(fileURLToPath(new URL('.', import.meta.url)), '../../dist/main.cjs');
const root = mkdtempSync(join(tmpdir(), 'mitos-test-install-'));

function install(...args: string[]) {
  // The code cache in this test's root: the first install writes it, the next ones run from it
  // (and so import the server runtime from a cached script, which Node 20 alone cannot).
  return spawnSync(process.execPath, [CLI, '--json', 'install', '--root-dir', root, ...args], {
    encoding: 'utf8',
    env: { ...process.env, XDG_CACHE_HOME: join(root, 'cache') },
  });
}

describe('mitos install', () => {
  after(() => rmSync(root, { recursive: true, force: true }));

  it('writes a unit for mitos serve, a root-only key and the state directory', () => {
    const r = install('--port', '8099');
    assert.equal(r.status, 0, r.stderr);
    const done = JSON.parse(r.stdout) as { unitPath: string; keyPath: string; stateDir: string; keyCreated: boolean };
    assert.equal(done.unitPath, join(root, 'etc/systemd/system/mitos.service'));
    assert.equal(done.keyCreated, true);
    const unit = readFileSync(done.unitPath, 'utf8');
    const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '';
    assert.match(exec, / serve --host 127\.0\.0\.1 --port 8099 --state-dir \/var\/lib\/mitos$/);
    assert.ok(exec.startsWith(`${process.execPath} `), 'runs this Node');
    assert.match(exec, /\/cli\/dist\/main\.cjs serve/);
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^Environment=MITOS_API_KEY_FILE=\/etc\/mitos\/api-key$/m);
    assert.match(unit, /^WantedBy=multi-user\.target$/m);
    assert.ok(!unit.includes(root), 'paths in the unit are the target system’s, not the temp root');
    assert.equal(statSync(done.keyPath).mode & 0o777, 0o600);
    assert.equal(statSync(join(root, 'etc/mitos')).mode & 0o777, 0o700);
    assert.equal(statSync(done.keyPath).uid, process.getuid?.());
    assert.match(readApiKeyFile(done.keyPath)[0] ?? '', /^sk-[0-9a-f]{48}$/);
    assert.equal(statSync(done.stateDir).mode & 0o777, 0o700);
    assert.ok(!r.stdout.includes(readApiKeyFile(done.keyPath)[0] ?? 'x'), 'the key is never printed');
  });

  it('a second install keeps the key clients already hold', () => {
    const key = readFileSync(join(root, 'etc/mitos/api-key'), 'utf8');
    const r = install();
    assert.equal(r.status, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { keyCreated: boolean }).keyCreated, false);
    assert.equal(readFileSync(join(root, 'etc/mitos/api-key'), 'utf8'), key);
  });

  it('mitos doctor passes on what it wrote and names each thing that breaks', {
    skip: process.getuid?.() !== 0 && 'the key must be root-owned',
  }, () => {
    // The unit names the Node binary on the target system; the temp root has none until we
    // put a stand-in where the unit says.
    const missingNode = serviceChecks(root).find((c) => c.name === 'systemd service');
    assert.equal(missingNode?.ok, false);
    assert.match(missingNode?.detail ?? '', /node does not exist/);
    mkdirSync(join(root, dirname(process.execPath)), { recursive: true });
    writeFileSync(join(root, process.execPath), '');
    const ok = serviceChecks(root);
    assert.deepEqual(
      ok.filter((c) => !c.ok),
      [],
    );
    assert.deepEqual(
      ok.map((c) => c.name),
      ['systemd service', 'service API key', 'service state directory'],
    );

    const key = join(root, 'etc/mitos/api-key');
    chmodSync(key, 0o644);
    const open = serviceChecks(root).find((c) => c.name === 'service API key');
    assert.equal(open?.ok, false);
    assert.match(open?.detail ?? '', /readable by others.*chmod 600/);
    assert.throws(() => readApiKeyFile(key), /readable by others/);
    chmodSync(key, 0o600);

    const unitPath = join(root, 'etc/systemd/system/mitos.service');
    const unit = readFileSync(unitPath, 'utf8');
    writeFileSync(unitPath, unit.replace(/^Restart=.*\n/m, ''));
    const noRestart = serviceChecks(root).find((c) => c.name === 'systemd service');
    assert.equal(noRestart?.ok, false);
    assert.match(noRestart?.detail ?? '', /Restart=on-failure/);
    writeFileSync(unitPath, unit);

    writeFileSync(key, '\n# no key\n', { mode: 0o600 });
    assert.throws(() => readApiKeyFile(key), /holds no key/);
  });

  it('without a unit the doctor says it is optional and how to install it', () => {
    const empty = mkdtempSync(join(tmpdir(), 'mitos-test-install-none-'));
    try {
      const [check] = serviceChecks(empty);
      assert.equal(check?.ok, true);
      assert.match(check?.detail ?? '', /mitos install/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
