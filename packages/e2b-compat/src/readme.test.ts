/**
 * The README's E2B snippets, run as written: each `node --input-type=module -e '...'` of the
 * section "E2B SDKs (unchanged)" in a shell of its own, with only the environment the README
 * tells a user to set, against a real server. The packages the README installs are this
 * package's devDependencies; names a snippet puts in allowOut go to a fake internet's resolver,
 * so nothing leaves the host.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type FakeInternet, readmeSnippets, runCollecting, startFakeInternet } from '@mitos/testkit';
import { type E2bServer, e2bServer, TEST_KEY } from './fixtures.js';

const PACKAGE_DIR = fileURLToPath(new URL('../', import.meta.url));
const README = fileURLToPath(new URL('../../../README.md', import.meta.url));

/** The node commands of the E2B section's bash blocks, in order. */
export function e2bSnippets(markdown: string): string[] {
  const section = readmeSnippets(markdown).filter((s) => s.chapter.startsWith('E2B SDKs'));
  assert.ok(section.length > 0, 'README has its E2B section');
  return section
    .filter((s) => s.lang === 'bash')
    .flatMap((s) => /^node --input-type=module -e '[\s\S]*'$/m.exec(s.code)?.[0] ?? []);
}

const runShell = (command: string, env: Record<string, string>, home: string) =>
  runCollecting('bash', ['-c', command], {
    cwd: PACKAGE_DIR,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...env },
  });

describe('the README E2B snippets run as written', { timeout: 900_000 }, () => {
  let live: E2bServer;
  let net: FakeInternet;
  let env: Record<string, string>;
  let home: string;
  const snippets = e2bSnippets(readFileSync(README, 'utf8'));

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'mitos-test-readme-e2b-'));
    net = await startFakeInternet();
    live = await e2bServer({ templates: ['e2b-base', 'code-interpreter'], dnsUpstreams: [net.dns] });
    env = { E2B_API_URL: live.e2bUrl, E2B_SANDBOX_URL: live.e2bUrl, E2B_API_KEY: TEST_KEY };
  });
  after(async () => {
    try {
      await live?.stop();
    } finally {
      await net?.stop();
      rmSync(home, { recursive: true, force: true });
    }
  });

  /** Runs snippet `n` and checks it printed each of `lines` as a line of its own. */
  const runs = (n: number, lines: string[]) => async () => {
    const snippet = snippets[n];
    assert.ok(snippet, `README E2B snippet ${n + 1}`);
    const r = await runShell(snippet, env, home);
    assert.equal(r.code, 0, `snippet ${n + 1} failed:\n${r.stderr}`);
    const printed = r.stdout.split('\n').map((l) => l.trim());
    for (const line of lines) assert.ok(printed.includes(line), `snippet ${n + 1} printed ${line}:\n${r.stdout}`);
  };

  test('the section has the four snippets this test knows', () => assert.equal(snippets.length, 4));
  test('commands, files and a code interpreter', runs(0, ['hi', 'user', 'hello', '42']));
  test('templates built on the server, a root account, code contexts', runs(1, ['built', 'dev', 'root', '1 2', '42']));
  test('a tag keeps its build, a snapshot starts new sandboxes', runs(2, ['one', 'saved']));
  test('names in allowOut, the rest shut', runs(3, ['not on the list']));
});
