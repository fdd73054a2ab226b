import assert from 'node:assert/strict';
import { type ChildProcess, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { MAIN, useFakeServer } from './test-support/fake-server.js';

const KEY = 'sk-live-0123456789abcdef';
const { fake, cli, configDir, root } = useFakeServer({ prefix: 'mitos-cli-', configDirPerTest: true });

describe('sandbox exec', () => {
  test("passes the command's exit code and streams through", async () => {
    fake.sandboxes.set('sb-1', 'python');
    fake.onExec = () => ({ json: { exit_code: 7, stdout: 'hi\n', stderr: 'oops\n', exec_time_ms: 2 } });
    const r = await cli(['sandbox', 'exec', 'sb-1', '--', 'python', '-c', "print('x')"]);
    assert.equal(r.code, 7);
    assert.equal(r.stdout, 'hi\n');
    assert.equal(r.stderr, 'oops\n');
    const exec = fake.seen.find((s) => s.url === '/v1/exec/stream');
    assert.deepEqual(exec?.body, { sandbox: 'sb-1', command: `python -c 'print('\\''x'\\'')'`, timeout: 30 });
  });

  test('a single argument is sent as a shell line; flags map to the wire', async () => {
    fake.sandboxes.set('sb-1', 'python');
    const r = await cli([
      'sandbox',
      'exec',
      'sb-1',
      '--timeout',
      '9',
      '--cwd',
      '/tmp',
      '--env',
      'A=b=c',
      '--',
      'echo $HOME | wc -c',
    ]);
    assert.equal(r.code, 0);
    const exec = fake.seen.find((s) => s.url === '/v1/exec/stream');
    assert.deepEqual(exec?.body, {
      sandbox: 'sb-1',
      command: 'echo $HOME | wc -c',
      timeout: 9,
      working_dir: '/tmp',
      env: { A: 'b=c' },
    });
  });

  test('an unknown sandbox exits 3 with the error on stderr', async () => {
    const r = await cli(['sandbox', 'exec', 'sb-none', '--', 'true']);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^error \[not_found\]: /);
    assert.match(r.stderr, /remediation: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  test('exec_timeout exits 124', async () => {
    fake.sandboxes.set('sb-1', 'python');
    fake.onExec = () => ({
      status: 504,
      json: {
        error: { code: 'exec_timeout', message: 'too slow', remediation: 'raise it', context: { timeout_s: 1 } },
      },
    });
    const r = await cli(['sandbox', 'exec', 'sb-1', '--timeout', '1', '--', 'sleep 5']);
    assert.equal(r.code, 124);
    assert.match(r.stderr, /error \[exec_timeout\]/);
  });

  test('--json prints the error envelope', async () => {
    const r = await cli(['--json', 'sandbox', 'exec', 'sb-none', '--', 'true']);
    assert.equal(r.code, 3);
    assert.equal(JSON.parse(r.stderr).error.code, 'not_found');
  });
});

describe('run', () => {
  test('creates, runs, terminates, and exits with the command code', async () => {
    fake.onExec = () => ({ json: { exit_code: 4, stdout: 'out', stderr: '', exec_time_ms: 1 } });
    const r = await cli(['run', '--', 'exit 4']);
    assert.equal(r.code, 4);
    assert.equal(r.stdout, 'out');
    assert.deepEqual(
      fake.seen.map((s) => `${s.method} ${s.url.replace(/sandbox-[0-9a-f]{8}/, 'ID')}`),
      // No template request for a template that exists, and the exit does not wait for the
      // host's clean-up (the server finishes it).
      ['POST /v1/fork', 'POST /v1/exec/stream', 'DELETE /v1/sandboxes/ID?wait=false'],
    );
    assert.equal(fake.sandboxes.size, 0);
  });

  test('Ctrl-C during the command still terminates the sandbox and exits 130', async () => {
    let child: ChildProcess | undefined;
    fake.onExec = () => {
      child?.kill('SIGINT');
      return { hang: true };
    };
    const r = await cli(['run', '--', 'sleep 60'], { onSpawn: (c) => (child = c) });
    assert.equal(r.code, 130);
    assert.equal(fake.seen.at(-1)?.method, 'DELETE');
    assert.equal(fake.sandboxes.size, 0);
  });

  test('terminates even when exec fails', async () => {
    fake.onExec = () => ({ status: 500, json: { error: { code: 'exec_failed', message: 'no', remediation: 'r' } } });
    const r = await cli(['run', '--template', 'node', '--', 'true']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error \[exec_failed\]/);
    assert.equal(fake.seen.at(-1)?.method, 'DELETE');
    assert.equal(fake.sandboxes.size, 0);
  });
});

describe('auth', () => {
  test('login writes the credentials file with mode 0600', async () => {
    const r = await cli(['auth', 'login', '--token', KEY]);
    assert.equal(r.code, 0, r.stderr);
    const path = join(configDir(), 'credentials.json');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).token, KEY);
    assert.ok(!r.stdout.includes(KEY));
  });

  test('whoami names the source and masks the key', async () => {
    const fromEnv = await cli(['auth', 'whoami'], { env: { MITOS_API_KEY: KEY } });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.match(fromEnv.stdout, /sk-\.\.\.cdef \(from MITOS_API_KEY\)/);
    assert.match(fromEnv.stdout, /status:\s+ok/);
    assert.ok(!fromEnv.stdout.includes(KEY) && !fromEnv.stderr.includes(KEY));
    assert.equal(fake.seen.at(-1)?.headers.authorization, `Bearer ${KEY}`);

    await cli(['auth', 'login', '--token', KEY]);
    const fromFile = await cli(['auth', 'whoami', '--json']);
    const doc = JSON.parse(fromFile.stdout);
    assert.equal(doc.apiKey, 'sk-...cdef');
    assert.equal(doc.apiKeySource, 'credentials');
    assert.ok(!fromFile.stdout.includes(KEY));
  });

  test('a server that echoes the key in a 401 never gets it printed; exit 4', async () => {
    fake.override = () => ({
      status: 401,
      json: { error: { code: 'unauthorized', message: `bad key ${KEY}`, cause: `got ${KEY}`, remediation: 'fix' } },
    });
    for (const json of [[], ['--json']]) {
      const r = await cli([...json, '--api-key', KEY, 'sandbox', 'ls']);
      assert.equal(r.code, 4);
      assert.ok(!r.stderr.includes(KEY) && !r.stdout.includes(KEY), r.stderr);
      assert.match(r.stderr, /\[REDACTED\]/);
    }
  });
});

describe('other commands and exit codes', () => {
  test('sandbox create prints the id, or the record with --json', async () => {
    const plain = await cli(['sandbox', 'create', '--id', 'mine']);
    assert.equal(plain.stdout, 'mine\n');
    const json = await cli(['sandbox', 'create', '--json']);
    const rec = JSON.parse(json.stdout);
    assert.match(rec.id, /^sandbox-[0-9a-f]{8}$/);
    assert.equal(rec.templateId, 'python');
  });

  test('files write from stdin, then read and ls', async () => {
    fake.sandboxes.set('sb-1', 'python');
    const w = await cli(['files', 'write', 'sb-1', '/w/a.txt'], { input: 'hello\n' });
    assert.equal(w.code, 0, w.stderr);
    assert.deepEqual(fake.seen.at(-1)?.body, { sandbox: 'sb-1', path: '/w/a.txt', content: 'hello\n' });
    const r = await cli(['files', 'read', 'sb-1', '/w/a.txt']);
    assert.equal(r.stdout, 'hello\n');
    const ls = await cli(['files', 'ls', 'sb-1', '/w']);
    assert.match(ls.stdout, /-rw-r--r--\s+3\s+\S+\s+a\.txt/);
  });

  test('usage errors exit 2', async () => {
    assert.equal((await cli(['bogus'])).code, 2);
    assert.equal((await cli(['sandbox', 'exec'])).code, 2);
    assert.equal((await cli(['sandbox', 'exec', 'sb-1', '--env', 'novalue', '--', 'true'])).code, 2);
    const big = await cli(['sandbox', 'create', '--id', 'bad id']);
    assert.equal(big.code, 2);
    assert.match(big.stderr, /invalid_request/);
  });

  test('a timeout above 86400 s exits 2 after no exec request', async () => {
    fake.sandboxes.set('sb-1', 'python');
    const r = await cli(['sandbox', 'exec', 'sb-1', '--timeout', '86401', '--', 'true']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /timeout_too_large/);
    assert.ok(!fake.seen.some((s) => s.url === '/v1/exec/stream'));
  });

  test('no server exits 5 and says how to start one', async () => {
    const r = await cli(['sandbox', 'ls'], { env: { MITOS_BASE_URL: 'http://127.0.0.1:9' } });
    assert.equal(r.code, 5);
    assert.match(r.stderr, /mitos serve/);
  });

  test('the bundle is compiled once: later runs read the code cache, a damaged one is replaced', async () => {
    const home = mkdtempSync(join(root, 'cache-'));
    const dir = join(home, 'mitos', 'cli');
    const version = await cli(['--version'], { env: { XDG_CACHE_HOME: home } });
    assert.equal(version.code, 0);
    const [file, ...more] = readdirSync(dir);
    assert.ok(file?.endsWith(`-${process.version}-${process.arch}.v8cache`), String(file));
    assert.deepEqual(more, []);
    const path = join(dir, file ?? '');
    assert.equal(statSync(path).mode & 0o077, 0, 'the cache is private to its user');
    // V8 accepted it: a rejected cache would have been written anew (a new file by rename).
    const ino = statSync(path).ino;
    assert.deepEqual(await cli(['--version'], { env: { XDG_CACHE_HOME: home } }), version);
    assert.equal(statSync(path).ino, ino);
    // Damaged in place: V8 rejects it, the command runs as without one and replaces it.
    writeFileSync(path, randomBytes(statSync(path).size));
    assert.deepEqual(await cli(['--version'], { env: { XDG_CACHE_HOME: home } }), version);
    assert.notEqual(statSync(path).ino, ino);
  });

  test('a user with no home (no HOME, no passwd entry) runs the command, without a cache', () => {
    const env: Record<string, string | undefined> = { ...process.env };
    delete env.HOME;
    delete env.XDG_CACHE_HOME;
    // 54321: a uid this host's passwd does not know, as a container's arbitrary user.
    const args = ['--reuid=54321', '--regid=54321', '--clear-groups', process.execPath, MAIN, '--version'];
    const r = spawnSync('setpriv', args, { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\d+\.\d+\.\d+/);
  });

  test('dist/main.js, the bin before it was CommonJS, still runs the command', async () => {
    const main = MAIN.replace(/main\.cjs$/, 'main.js');
    const r = spawnSync(process.execPath, [main, '--version'], {
      encoding: 'utf8',
      env: { ...process.env, XDG_CACHE_HOME: root },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, (await cli(['--version'])).stdout);
  });

  test('--help lists the exit codes; --version exits 0', async () => {
    const help = await cli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /124\s+timeout/);
    assert.equal((await cli(['--version'])).code, 0);
  });
});
