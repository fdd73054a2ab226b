/**
 * `Template.build` of the latest `e2b` SDK, unmodified, on mitos's template builder: the copy's
 * files travel through the upload link, the steps run as E2B's `user`, build logs stream, and
 * a sandbox of the built template has what the steps made. Another key cannot use the template.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BuildError, type LogEntry, Sandbox, Template } from 'e2b';
import { type E2bServer, e2bServer, TEST_KEY, useE2bEnvironment } from './fixtures.js';

const OTHER_KEY = `e2b_${'6'.repeat(40)}`;

describe('e2b Template.build against mitos', { timeout: 600_000 }, () => {
  let live: E2bServer;
  let contextDir: string;
  before(async () => {
    live = await e2bServer({ apiKeys: [TEST_KEY, OTHER_KEY], templates: ['e2b-base'] });
    useE2bEnvironment(live);
    contextDir = join(live.env.stateDir, 'template-context');
    mkdirSync(join(contextDir, 'app', 'lib'), { recursive: true });
    writeFileSync(join(contextDir, 'app', 'main.txt'), 'main file\n');
    writeFileSync(join(contextDir, 'app', 'lib', 'util.txt'), 'util file\n');
    writeFileSync(join(contextDir, 'notes.txt'), 'a note\n');
  });
  after(async () => {
    await live.stop();
  });

  test('a template with copy, run, env and workdir steps builds, and its sandboxes have them', async () => {
    const template = Template({ fileContextPath: contextDir })
      .fromTemplate('base')
      .copy('app', '/opt/app')
      .copy('notes.txt', '/opt/notes.txt', { mode: 0o600 })
      .setEnvs({ GREETING: 'hello from the template' })
      .runCmd('id -un > /tmp/built-by; echo "$GREETING" > /tmp/greeting')
      .runCmd('touch /opt/root-made', { user: 'root' })
      .setWorkdir('/opt/app');
    const logs: LogEntry[] = [];
    const info = await Template.build(template, 'e2b-built', { onBuildLogs: (l) => logs.push(l) });
    assert.equal(info.templateId, 'e2b-built');
    assert.ok(
      logs.some((l) => /run/.test(l.message)),
      `build logs name the steps: ${logs.map((l) => l.message).join(' | ')}`,
    );

    const sb = await Sandbox.create('e2b-built', { timeoutMs: 120_000 });
    after(() => sb.kill().catch(() => {}));
    const r = await sb.commands.run(
      'cat /opt/app/main.txt /opt/app/lib/util.txt /tmp/built-by /tmp/greeting; stat -c "%U %a" /opt/notes.txt /opt/root-made',
    );
    assert.equal(r.stdout, 'main file\nutil file\nuser\nhello from the template\nuser 600\nroot 644\n');
    // A second build of the same definition is served from the cache: nothing is uploaded again.
    const again: LogEntry[] = [];
    await Template.build(template, 'e2b-built', { onBuildLogs: (l) => again.push(l) });
    assert.ok(
      again.some((l) => /already cached/.test(l.message)),
      again.map((l) => l.message).join(' | '),
    );
  });

  test("a template's last setUser is its sandboxes' default account for commands and files", async () => {
    const template = Template({ fileContextPath: contextDir })
      .fromTemplate('base')
      .runCmd('useradd --uid 1500 --create-home --home-dir /home/app --shell /bin/bash app', { user: 'root' })
      .setUser('app');
    await Template.build(template, 'e2b-app-user');
    const sb = await Sandbox.create('e2b-app-user', { timeoutMs: 120_000 });
    after(() => sb.kill().catch(() => {}));
    assert.equal((await sb.commands.run('id -un; id -u; echo $HOME; pwd')).stdout, 'app\n1500\n/home/app\n/home/app\n');
    // A relative path is in that account's home, and the file is its.
    await sb.files.write('note.txt', 'mine\n');
    assert.equal((await sb.commands.run('stat -c "%U %n" /home/app/note.txt')).stdout, 'app /home/app/note.txt\n');
    assert.equal(await sb.files.read('/home/app/note.txt'), 'mine\n');
    // The others stay reachable by name.
    assert.equal((await sb.commands.run('id -un', { user: 'user' })).stdout, 'user\n');
    assert.equal((await sb.commands.run('id -un', { user: 'root' })).stdout, 'root\n');

    const asRoot = Template({ fileContextPath: contextDir }).fromTemplate('base').setUser('root');
    await Template.build(asRoot, 'e2b-root-user');
    const rootSb = await Sandbox.create('e2b-root-user', { timeoutMs: 120_000 });
    after(() => rootSb.kill().catch(() => {}));
    assert.equal((await rootSb.commands.run('id -un; echo $HOME')).stdout, 'root\n/root\n');
  });

  test('a failing step fails the build with a BuildError that carries the step output', async () => {
    const template = Template({ fileContextPath: contextDir }).fromTemplate('base').runCmd('echo broken >&2; exit 3');
    await assert.rejects(Template.build(template, 'e2b-broken'), (err: unknown) => {
      assert.ok(err instanceof BuildError, String(err));
      assert.match(String(err.message), /exit|3/);
      return true;
    });
  });

  test("another key can neither use nor rebuild a tenant's template", async () => {
    const opts = { apiKey: OTHER_KEY };
    await assert.rejects(Sandbox.create('e2b-built', { ...opts, timeoutMs: 30_000 }), /not found/i);
    const template = Template({ fileContextPath: contextDir }).fromTemplate('base').runCmd('true');
    await assert.rejects(Template.build(template, 'e2b-built', opts), /taken|409|conflict/i);
    assert.equal(await Template.exists('e2b-built', opts), true, 'a name taken by another team exists (403)');
    assert.equal(await Template.exists('never-built', opts), false);
  });

  test('a restarted server still answers the build status, log entries included', async () => {
    const template = Template({ fileContextPath: contextDir }).fromTemplate('base').runCmd('echo kept-across-restart');
    const info = await Template.build(template, 'e2b-kept');
    const before = await Template.getBuildStatus(info);
    assert.equal(before.status, 'ready');
    await live.restart();
    const after = await Template.getBuildStatus(info);
    assert.equal(after.status, 'ready');
    assert.deepEqual(
      after.logEntries.map((l) => l.message),
      before.logEntries.map((l) => l.message),
    );
    const tail = await Template.getBuildStatus(info, { logsOffset: before.logEntries.length - 1 });
    assert.equal(tail.logEntries.length, 1);
  });

  test('what cannot be mapped is refused, not ignored', async () => {
    const globbed = Template({ fileContextPath: contextDir }).fromTemplate('base').copy('app/*.txt', '/opt/');
    await assert.rejects(Template.build(globbed, 'e2b-globbed'), /wildcards/);
    const badTag = Template({ fileContextPath: contextDir }).fromTemplate('base').runCmd('true');
    await assert.rejects(Template.build(badTag, 'e2b-tagged:no/slash'), /tag/);
  });
});
