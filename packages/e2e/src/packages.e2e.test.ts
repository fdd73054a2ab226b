// What `npm install @mitos/cli @mitos/sdk` gives a user: the packed tarballs (scripts/pack.mjs,
// the files `npm publish` would upload) installed into an empty project with no network, then
// the `mitos` bin and an SDK script run against a real server.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type LiveServer, liveServer } from './fixtures.js';

const repoRoot = join(fileURLToPath(new URL('.', import.meta.url)), '../../..');

interface Packed {
  name: string;
  version: string;
  file: string;
  files: string[];
}

const cliVersion = (
  JSON.parse(readFileSync(join(repoRoot, 'packages/cli/package.json'), 'utf8')) as { version: string }
).version;

function sh(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }) {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    timeout: 5 * 60_000,
    ...opts,
    env: { ...process.env, ...opts.env },
  });
  if (r.error) throw r.error;
  return r;
}

// Async: the server under test answers from this same process, so a client must not block it.
async function client(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  try {
    const r = await promisify(execFile)(cmd, args, { cwd, env: { ...process.env, ...env }, timeout: 5 * 60_000 });
    return { status: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
    return { status: e.code ?? 1, stdout: e.stdout ?? '', stderr: `${e.stderr ?? ''}${e.message}` };
  }
}

describe('the npm packages install from their tarballs', { timeout: 15 * 60_000 }, () => {
  let work: string;
  let project: string;
  let packed: Packed[];
  let live: LiveServer;
  let clientEnv: NodeJS.ProcessEnv;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'mitos-test-pack-'));
    project = join(work, 'project');
    // An empty project gets the tarballs with no network: `npm ci --offline` over a lock that
    // names each @mitos tarball and the workspace's pinned third-party versions (in npm's cache).
    const pack = sh(
      'node',
      [join(repoRoot, 'scripts/pack.mjs'), '--json', '--install', project, join(work, 'tarballs')],
      { cwd: repoRoot },
    );
    assert.equal(pack.status, 0, pack.stderr.slice(-3000));
    packed = JSON.parse(pack.stdout) as Packed[];
    live = await liveServer();
    clientEnv = { MITOS_BASE_URL: live.url, MITOS_CONFIG_DIR: join(work, 'config'), MITOS_API_KEY: '' };
  });

  after(async () => {
    await live?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('packs @mitos/cli, @mitos/sdk and exactly their workspace dependencies', () => {
    const names = packed.map((p) => p.name).sort();
    for (const required of [
      '@mitos/cli',
      '@mitos/sdk',
      '@mitos/protocol',
      '@mitos/runtime',
      '@mitos/engine',
      '@mitos/agent',
    ]) {
      assert.ok(names.includes(required), `${required} is packed`);
    }
    assert.ok(!names.includes('@mitos/testkit'), 'the private test kit is not a dependency');
  });

  it('the tarballs hold no tests, fakes, test support, sources or source maps', () => {
    for (const p of packed) {
      const bad = p.files.filter((f) =>
        /\.test\.|\.map$|test-support\/|testing\/|^src\/|dist-test\/|tsbuildinfo/.test(f),
      );
      assert.deepEqual(bad, [], `${p.name} ships ${bad.slice(0, 5).join(', ')}`);
      assert.ok(p.files.includes('package.json'));
      // The agent ships its static binaries and kernels; everything else its compiled dist/.
      const build = p.name === '@mitos/agent' ? ['build/mitos-agent', 'build/mitos-guest'] : ['dist/index.js'];
      if (p.name === '@mitos/cli') build.splice(0, 1, 'dist/main.cjs', 'dist/mitos.cjs');
      if (p.name === '@mitos/console') build.splice(0, 1, 'dist/node/assets.js');
      for (const f of build) assert.ok(p.files.includes(f), `${p.name} ships ${f}`);
    }
  });

  it('every package has one shared version, a licence, repository, engines and resolvable exports', () => {
    for (const p of packed) {
      const m = JSON.parse(readFileSync(join(project, 'node_modules', p.name, 'package.json'), 'utf8')) as Record<
        string,
        unknown
      > & { exports?: Record<string, unknown>; dependencies?: Record<string, string> };
      assert.equal(p.version, cliVersion, `${p.name} follows the one version (CHANGELOG.md)`);
      assert.equal(m.license, 'Apache-2.0');
      assert.match(String((m.repository as { url?: string })?.url), /^git\+https:/);
      assert.deepEqual(m.engines, { node: '>=20.12' });
      for (const [dep, range] of Object.entries(m.dependencies ?? {})) {
        if (dep.startsWith('@mitos/')) assert.equal(range, cliVersion, `${p.name} pins ${dep} to the same version`);
      }
      const targets: string[] = [];
      const leaves = (v: unknown): void => {
        if (typeof v === 'string') targets.push(v);
        else if (v && typeof v === 'object') for (const x of Object.values(v)) leaves(x);
      };
      leaves(m.exports);
      for (const target of targets) {
        assert.ok(p.files.includes(target.slice(2)), `${p.name} exports ${target}, which is in the tarball`);
      }
    }
  });

  it('npx mitos --version prints the package version', () => {
    const r = sh('npx', ['--offline', 'mitos', '--version'], { cwd: project });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), cliVersion);
  });

  it('mitos run -- echo hi runs in a sandbox of a real server', async () => {
    const r = await client('npx', ['--offline', 'mitos', 'run', '--', 'echo', 'hi'], project, clientEnv);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'hi\n');
  });

  it('a script importing @mitos/sdk creates a sandbox, runs a command and terminates it', async () => {
    writeFileSync(
      join(project, 'script.mjs'),
      [
        "import { create } from '@mitos/sdk';",
        "const sb = await create('python');",
        'try {',
        '  const r = await sb.exec(\'python3 -c "print(6 * 7)"\');',
        '  console.log(JSON.stringify({ id: sb.id, stdout: r.stdout }));',
        '} finally {',
        '  await sb.terminate();',
        '}',
      ].join('\n'),
    );
    const r = await client('node', ['script.mjs'], project, clientEnv);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { id: string; stdout: string };
    assert.equal(out.stdout, '42\n');
    const res = await fetch(`${live.url}/v1/sandboxes/${out.id}`);
    assert.equal(res.status, 404, 'the script terminated its sandbox');
  });
});
