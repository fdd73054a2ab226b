// The README's snippets, extracted and run as written on the Node this package supports,
// against a real server: a snippet that fails here fails for every reader who copies it.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SandboxServer } from '@mitos/sdk';
import { readmeSnippets, runCollecting } from '@mitos/testkit';
import { CLI, type LiveServer, liveServer } from './fixtures.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const run = (cmd: string, args: string[], cwd: string, env: Record<string, string>) =>
  runCollecting(cmd, args, { cwd, env: { ...process.env, ...env } });

describe('end to end: the README snippets run as written', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let dir: string;
  let env: Record<string, string>;
  const snippets = readmeSnippets(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  const ts = snippets.filter((s) => s.lang === 'ts' || s.lang === 'js');
  const before_ = new Set<string>();

  before(async () => {
    // With a workspace store, as `mitos serve` has: the Workspaces snippet needs one.
    live = await liveServer({ workspaces: {} });
    dir = mkdtempSync(join(tmpdir(), 'mitos-test-readme-'));
    // The snippets import '@mitos/...' as a user's project would: from its node_modules.
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    env = { MITOS_BASE_URL: live.url, HOME: dir, XDG_CONFIG_HOME: dir, MITOS_API_KEY: '' };
    for (const s of await new SandboxServer({ baseUrl: live.url }).listSandboxes()) before_.add(s.id);
  });
  after(async () => {
    // Snippets that end without terminating (they are excerpts) must not leave sandboxes.
    const server = new SandboxServer({ baseUrl: live.url });
    for (const s of await server.listSandboxes().catch(() => [])) {
      if (!before_.has(s.id)) await fetch(`${live.url}/v1/sandboxes/${s.id}`, { method: 'DELETE' }).catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
    await live.stop();
  });

  test('every TypeScript and JavaScript block is accounted for below', () => {
    // A new block needs a decision here: run it, or say why it cannot run on one host.
    assert.deepEqual(
      ts.map((s) => s.section),
      [
        'TypeScript SDK',
        'TypeScript SDK',
        'Templates as code',
        'Templates as code',
        'Workspaces',
        'Workspaces',
        'Agents: MCP and framework adapters',
        'Server',
        'Network posture',
        'Kubernetes',
        'Kubernetes',
        'Kubernetes',
      ],
    );
  });

  /** The block under `section` (the `nth` there); a README server address points at the test server. */
  const block = (section: string, nth = 0) =>
    (ts.filter((s) => s.section === section)[nth]?.code ?? '').replaceAll('http://127.0.0.1:8080', live.url);
  const runTs = async (name: string, code: string) => {
    const file = join(dir, `${name}.mjs`);
    writeFileSync(file, code);
    return run(process.execPath, [file], dir, env);
  };

  test('TypeScript SDK: the first snippet prints what its comments say', async () => {
    const r = await runTs('sdk-first', block('TypeScript SDK'));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['4', '', 'draft', '12.0', '6']);
  });

  test('TypeScript SDK: streaming and long-running work, on the sandbox of the first', async () => {
    const setup = "import { create } from '@mitos/sdk';\nconst sb = await create('python');\ntry {\n";
    const r = await runTs(
      'sdk-streaming',
      `${setup}${block('TypeScript SDK', 1)}\n} finally {\n  await sb.terminate();\n}\n`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /exit \d+/);
  });

  test('Templates as code: the built template starts in /srv with its env', async () => {
    const r = await runTs('template', block('Templates as code'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\/srv\ndemo$/m);
  });

  test('Templates as code: a two-stage Dockerfile builds from the SDK', async () => {
    const r = await runTs('dockerfile', block('Templates as code', 1));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['app-stage-build app', 'compiled']);
  });

  test('Workspaces: a revision carries the file to the next sandbox', async () => {
    const r = await runTs('workspaces', block('Workspaces'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^# plan$/m);
    assert.match(r.stdout, /modified: \[ 'plan\.md' \]/);
  });

  test('Workspaces: a sandbox ended by its deadline committed first', async () => {
    // The second block goes on from the first: its server, and the workspace it made.
    const setup = `import { SandboxServer } from '@mitos/sdk';\nconst server = new SandboxServer({ baseUrl: '${live.url}' });\nawait server.workspaces.create('notes').catch(() => {});\n`;
    const r = await runTs('workspaces-deadline', `${setup}${block('Workspaces', 1)}`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /reason: 'deadline'/);
    assert.match(r.stdout, /revision: 'notes-\d+'/);
    assert.match(r.stdout, /error: null/);
  });

  test('framework adapters: mitosTools builds tools for a sandbox', async () => {
    const r = await runTs(
      'ai-tools',
      `${block('Agents: MCP and framework adapters')}\nconsole.log(Object.keys(tools).length > 0);\n`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'true');
  });

  test('Server: the forward snippet gets an HTTP answer through the forward', async () => {
    const r = await runTs('forward', block('Server'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^HTTP\/1\.0 200 OK/);
  });

  test('Network posture: the SDK snippet reads and changes a sandbox posture', async () => {
    const r = await runTs('network', block('Network posture'));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ["[ '*.github.com:443' ]", 'allow']);
  });

  test('Kubernetes: the snippet parses (it needs a cluster, which the controller tests provide)', async () => {
    const file = join(dir, 'kube.mjs');
    // The later blocks go on from the first (they use its client).
    writeFileSync(file, `${block('Kubernetes')}\n${block('Kubernetes', 1)}\n${block('Kubernetes', 2)}`);
    const r = await run(process.execPath, ['--check', file], dir, env);
    assert.equal(r.code, 0, r.stderr);
  });

  test('CLI: the bash block runs, non-interactive parts and all', async () => {
    const block = snippets.find((s) => s.lang === 'bash' && s.section === 'CLI')?.code ?? '';
    const script = block
      .replace(/^alias mitos=.*$/m, `mitos() { ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@"; }`)
      // Interactive or host-wide lines: a terminal session, a stdio server, the host check.
      .replace(/^mitos (sandbox shell|mcp|doctor)\b.*$/gm, ': skipped $&')
      .replace(/^mitos auth login .*$/m, ': skipped (writes a credentials file)');
    const r = await run('bash', ['-c', script], dir, env);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], '4', r.stderr);
    assert.ok(lines.includes('42'), r.stdout + r.stderr);
    assert.ok(lines.includes('hello'), r.stdout);
  });
});
