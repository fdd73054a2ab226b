/**
 * The SDK installs and works without any agent framework: `npm pack` of @mitos/sdk (and the
 * @mitos/protocol it needs) installed offline into an empty project pulls in no framework,
 * no MCP SDK and no integration, and imports. The adapters declare every framework as an
 * optional peer, so installing them never drags a framework in either.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const packages = join(fileURLToPath(new URL('.', import.meta.url)), '../..');
const FRAMEWORKS = [
  'ai',
  '@ai-sdk/provider',
  '@openai/agents',
  'openai',
  '@anthropic-ai/claude-agent-sdk',
  '@langchain/core',
  'langchain',
  'deepagents',
  '@vibe-kit/sdk',
  'computesdk',
  '@computesdk/provider',
  '@modelcontextprotocol/sdk',
  '@mitos/mcp',
  '@mitos/integrations',
];

const work = mkdtempSync(join(tmpdir(), 'mitos-test-pack-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** Every package name under a node_modules tree, nested ones included. */
function installed(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const names: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith('.')) continue;
    const scoped = entry.startsWith('@') ? readdirSync(join(dir, entry)).map((n) => `${entry}/${n}`) : [entry];
    for (const name of scoped) {
      names.push(name);
      names.push(...installed(join(dir, name, 'node_modules')));
    }
  }
  return names;
}

test('a project that installs only @mitos/sdk (from npm pack, offline) gets no framework and can import it', () => {
  const tarballs = ['protocol', 'sdk'].map((p) =>
    join(
      work,
      execFileSync('npm', ['pack', '--silent', '--pack-destination', work, join(packages, p)], {
        encoding: 'utf8',
      }).trim(),
    ),
  );
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], {
    cwd: app,
    stdio: 'pipe',
  });
  const names = installed(join(app, 'node_modules'));
  assert.ok(names.includes('@mitos/sdk'));
  for (const framework of FRAMEWORKS) assert.ok(!names.includes(framework), `${framework} was installed with the SDK`);
  const shipped = execFileSync('tar', ['tzf', tarballs[1] as string], { encoding: 'utf8' });
  assert.ok(!/\.test\.js/.test(shipped), 'the packed SDK carries test files');
  writeFileSync(
    join(app, 'check.mjs'),
    "import { create, SandboxServer } from '@mitos/sdk';\nconsole.log(typeof create, new SandboxServer({ baseUrl: 'http://127.0.0.1:1' }).baseUrl);\n",
  );
  assert.equal(
    execFileSync(process.execPath, ['check.mjs'], { cwd: app, encoding: 'utf8' }),
    'function http://127.0.0.1:1\n',
  );
});

test('@mitos/integrations lists every framework as an optional peer, never as a dependency', () => {
  const pkg = JSON.parse(readFileSync(join(packages, 'integrations', 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    peerDependencies: Record<string, string>;
    peerDependenciesMeta: Record<string, { optional?: boolean }>;
  };
  for (const dep of Object.keys(pkg.dependencies))
    assert.ok(!FRAMEWORKS.slice(0, 12).includes(dep), `${dep} is a hard dependency`);
  for (const peer of Object.keys(pkg.peerDependencies)) assert.equal(pkg.peerDependenciesMeta[peer]?.optional, true);
});
