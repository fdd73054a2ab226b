/**
 * E2B template tags, the template listing and snapshots through the unmodified SDKs (latest and
 * 2.14, the first release with tags and snapshots): a tag keeps the build it was given while
 * the template is rebuilt, a snapshot starts sandboxes with its source's files after the source
 * is gone, and another key sees none of it. The listing and the legacy build paths no SDK calls
 * any more are driven over HTTP as the CLI and older SDKs send them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Sandbox, Template } from 'e2b';
import * as v2_14 from 'e2b-2-14';
import { type E2bServer, e2bServer, TEST_KEY, useE2bEnvironment } from './fixtures.js';

const OTHER_KEY = `e2b_${'7'.repeat(40)}`;

describe('e2b template tags, listing and snapshots against mitos', { timeout: 600_000 }, () => {
  let live: E2bServer;
  const api = (path: string, init: RequestInit = {}, key = TEST_KEY) =>
    fetch(`${live.e2bUrl}${path}`, {
      ...init,
      headers: { 'X-API-KEY': key, 'content-type': 'application/json', ...(init.headers ?? {}) },
    });
  const versionOf = async (template: string, apiKey = TEST_KEY) => {
    const sb = await Sandbox.create(template, { apiKey, timeoutMs: 60_000 });
    try {
      return (await sb.commands.run('cat /opt/version')).stdout.trim();
    } finally {
      await sb.kill();
    }
  };
  const build = (version: string, name: string, tags?: string[]) =>
    Template.build(
      Template().fromTemplate('base').runCmd(`echo ${version} > /tmp/v && cp /tmp/v /opt/version`, { user: 'root' }),
      name,
      tags ? { tags } : {},
    );

  before(async () => {
    live = await e2bServer({ apiKeys: [TEST_KEY, OTHER_KEY], templates: ['e2b-base'] });
    useE2bEnvironment(live);
  });
  after(() => live.stop());

  test('a tag keeps its build while the template is rebuilt; tags are listed and removed', async () => {
    await build('one', 'e2b-tags');
    const assigned = await Template.assignTags('e2b-tags', 'v1');
    assert.deepEqual(assigned.tags, ['v1']);
    await build('two', 'e2b-tags');
    // A build for named tags only leaves the default where it was.
    await build('three', 'e2b-tags', ['v3', 'stable']);
    assert.equal(await versionOf('e2b-tags:v1'), 'one');
    assert.equal(await versionOf('e2b-tags'), 'two');
    assert.equal(await versionOf('e2b-tags:stable'), 'three');
    // 2.14's assignTags moves a tag to another build.
    await v2_14.Template.assignTags('e2b-tags:stable', 'v1');
    assert.equal(await versionOf('e2b-tags:v1'), 'three');

    const tags = await Template.getTags('e2b-tags');
    assert.deepEqual(tags.map((t) => t.tag).sort(), ['default', 'stable', 'v1', 'v3']);
    const byTag = new Map(tags.map((t) => [t.tag, t.buildId]));
    assert.equal(byTag.get('v1'), byTag.get('v3'), 'v1 now names the build v3 names');
    assert.notEqual(byTag.get('default'), byTag.get('v3'));

    await Template.removeTags('e2b-tags', 'v1');
    await assert.rejects(Sandbox.create('e2b-tags:v1', { timeoutMs: 30_000 }), /not found/i);
    assert.equal(await versionOf('e2b-tags:v3'), 'three', 'another tag of the same build stays');
    await assert.rejects(Template.removeTags('e2b-tags', 'never'), /tag/);
    await assert.rejects(Sandbox.create('e2b-tags:v3', { apiKey: OTHER_KEY, timeoutMs: 30_000 }), /not found/i);
    await assert.rejects(Template.getTags('e2b-tags', { apiKey: OTHER_KEY }), /not found/i);
  });

  test("the listing and builds are the key's own, a published template starts for other keys; v1 builds are refused", async () => {
    const listed = (await (await api('/templates')).json()) as Array<Record<string, unknown>>;
    const mine = listed.find((t) => t.templateID === 'e2b-tags');
    assert.ok(mine, JSON.stringify(listed));
    assert.equal(mine.buildCount, 3);
    assert.equal(mine.buildStatus, 'ready');
    assert.ok((mine.spawnCount as number) >= 2, `spawnCount ${mine.spawnCount}`);
    assert.equal(typeof mine.lastSpawnedAt, 'string');
    assert.ok(!listed.some((t) => String(t.templateID).startsWith('t')), 'tag copies are not templates');
    const page = await api('/v2/templates?limit=1');
    assert.equal(((await page.json()) as unknown[]).length, 1);
    const detail = (await (await api('/templates/e2b-tags')).json()) as { builds: Array<{ status: string }> };
    assert.deepEqual(
      detail.builds.map((b) => b.status),
      ['ready', 'ready', 'ready'],
    );
    assert.deepEqual(await (await api('/templates', {}, OTHER_KEY)).json(), []);
    assert.equal((await api('/templates/e2b-tags', {}, OTHER_KEY)).status, 404);

    // Published, another key starts sandboxes from it (its tags too) and finds it by name; nothing more.
    const publish = await api('/v2/templates/e2b-tags', { method: 'PATCH', body: '{"public":true}' });
    assert.deepEqual(await publish.json(), { names: ['e2b-tags'] });
    assert.equal(await versionOf('e2b-tags', OTHER_KEY), 'two');
    assert.equal(await versionOf('e2b-tags:v3', OTHER_KEY), 'three');
    assert.equal(await Template.exists('e2b-tags', { apiKey: OTHER_KEY }), true);
    const listedNow = (await (await api('/templates')).json()) as Array<Record<string, unknown>>;
    assert.equal(listedNow.find((t) => t.templateID === 'e2b-tags')?.public, true);
    assert.deepEqual(await (await api('/templates', {}, OTHER_KEY)).json(), []);
    assert.equal(
      (await api('/templates/e2b-tags', { method: 'PATCH', body: '{"public":false}' }, OTHER_KEY)).status,
      404,
    );
    assert.equal((await api('/templates/e2b-tags', { method: 'DELETE' }, OTHER_KEY)).status, 404);
    await assert.rejects(Template.assignTags('e2b-tags', 'theirs', { apiKey: OTHER_KEY }), /not found/i);
    const unpublish = await api('/v2/templates/e2b-tags', { method: 'PATCH', body: '{"public":false}' });
    assert.deepEqual(await unpublish.json(), { names: ['e2b-tags'] });
    await assert.rejects(Sandbox.create('e2b-tags', { apiKey: OTHER_KEY, timeoutMs: 30_000 }), /not found/i);
    const dockerFlow = await api('/templates', { method: 'POST', body: '{"dockerfile":"FROM ubuntu"}' });
    assert.equal(dockerFlow.status, 501);
    assert.match(JSON.stringify(await dockerFlow.json()), /Template\.build/);
  });

  test('the v2 build request of SDKs before 2.7 opens a build the same builder runs', async () => {
    const requested = await api('/v2/templates', { method: 'POST', body: '{"alias":"e2b-legacy","cpuCount":1}' });
    assert.equal(requested.status, 202);
    const { templateID, buildID } = (await requested.json()) as { templateID: string; buildID: string };
    assert.equal(templateID, 'e2b-legacy');
    const started = await api(`/v2/templates/${templateID}/builds/${buildID}`, {
      method: 'POST',
      body: JSON.stringify({
        fromTemplate: 'base',
        steps: [{ type: 'RUN', args: ['echo legacy > /opt/version', 'root'] }],
      }),
    });
    assert.equal(started.status, 202);
    const deadline = Date.now() + 300_000;
    let status = 'waiting';
    while ((status === 'waiting' || status === 'building') && Date.now() < deadline) {
      const s = await api(`/templates/${templateID}/builds/${buildID}/status`);
      status = ((await s.json()) as { status: string }).status;
      if (status === 'waiting' || status === 'building') await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(status, 'ready');
    assert.equal(await versionOf('e2b-legacy'), 'legacy');
    const logs = (await (await api(`/templates/${templateID}/builds/${buildID}/logs`)).json()) as {
      logs: Array<{ message: string }>;
    };
    assert.ok(
      logs.logs.some((l) => /run/.test(l.message)),
      JSON.stringify(logs),
    );
    assert.equal((await api('/templates/e2b-legacy', { method: 'DELETE' })).status, 204);
    await assert.rejects(Sandbox.create('e2b-legacy', { timeoutMs: 30_000 }), /not found/i);
  });

  test('a snapshot starts sandboxes with its files after its source is gone, and is deleted', async () => {
    const source = await Sandbox.create('base', { timeoutMs: 60_000 });
    await source.files.write('state.txt', 'kept in the snapshot\n');
    const snapshot = await source.createSnapshot();
    assert.match(snapshot.snapshotId, /^[a-z0-9]+:default$/);
    const listed = await Sandbox.listSnapshots({ sandboxId: source.sandboxId }).nextItems();
    assert.deepEqual(
      listed.map((s) => s.snapshotId),
      [snapshot.snapshotId],
    );
    // The snapshot's copy is nobody's sandbox.
    assert.ok(!(await Sandbox.list().nextItems()).some((s) => s.sandboxId !== source.sandboxId));
    await source.kill();

    const started = await Sandbox.create(snapshot.snapshotId, { timeoutMs: 60_000 });
    try {
      const r = await started.commands.run('cat state.txt; id -un');
      assert.equal(r.stdout, 'kept in the snapshot\nuser\n');
      await started.files.write('state.txt', 'changed in one sandbox\n');
    } finally {
      await started.kill();
    }
    const second = await Sandbox.create(snapshot.snapshotId, { timeoutMs: 60_000 });
    assert.equal(await second.files.read('state.txt'), 'kept in the snapshot\n', 'each start is a fresh copy');
    await second.kill();

    await assert.rejects(Sandbox.create(snapshot.snapshotId, { apiKey: OTHER_KEY, timeoutMs: 30_000 }), /not found/i);
    assert.deepEqual(await Sandbox.listSnapshots({ apiKey: OTHER_KEY }).nextItems(), []);
    assert.equal(await Sandbox.deleteSnapshot(snapshot.snapshotId, { apiKey: OTHER_KEY }), false);
    assert.equal(await Sandbox.deleteSnapshot(snapshot.snapshotId), true);
    assert.equal(await Sandbox.deleteSnapshot(snapshot.snapshotId), false);
    await assert.rejects(Sandbox.create(snapshot.snapshotId, { timeoutMs: 30_000 }), /not found/i);
  });

  test('a paused sandbox is snapshotted as it is and stays paused', async () => {
    const source = await Sandbox.create('base', { timeoutMs: 60_000 });
    let snapshotId = '';
    try {
      await source.files.write('p.txt', 'written before the pause\n');
      await source.pause();
      snapshotId = (await source.createSnapshot()).snapshotId;
      assert.equal((await Sandbox.getInfo(source.sandboxId)).state, 'paused');
      const started = await Sandbox.create(snapshotId, { timeoutMs: 60_000 });
      try {
        assert.equal((await started.commands.run('cat p.txt')).stdout, 'written before the pause\n');
      } finally {
        await started.kill();
      }
      const resumed = await Sandbox.connect(source.sandboxId, { timeoutMs: 60_000 });
      assert.equal(await resumed.files.read('p.txt'), 'written before the pause\n');
    } finally {
      await source.kill();
      if (snapshotId) await Sandbox.deleteSnapshot(snapshotId);
    }
  });

  test('2.14 takes, lists, starts and deletes snapshots too', async () => {
    const source = await v2_14.Sandbox.create('base', { timeoutMs: 60_000, allowInternetAccess: false });
    let snapshotId: string;
    try {
      await source.files.write('/home/user/n.txt', 'from 2.14');
      snapshotId = (await source.createSnapshot()).snapshotId;
    } finally {
      await source.kill();
    }
    const started = await v2_14.Sandbox.create(snapshotId, { timeoutMs: 60_000, allowInternetAccess: false });
    try {
      assert.equal(await started.files.read('/home/user/n.txt'), 'from 2.14');
    } finally {
      await started.kill();
    }
    const listed = await v2_14.Sandbox.listSnapshots().nextItems();
    assert.ok(
      listed.some((s) => s.snapshotId === snapshotId),
      JSON.stringify(listed),
    );
    assert.equal(await v2_14.Sandbox.deleteSnapshot(snapshotId), true);
  });

  test('a named snapshot is replaced when taken again under its name, and cannot take a template name', async () => {
    const source = await Sandbox.create('base', { timeoutMs: 60_000 });
    try {
      await source.files.write('n.txt', 'first');
      await Sandbox.createSnapshot(source.sandboxId, { name: 'e2b-named-snap' });
      await source.files.write('n.txt', 'second');
      const again = await source.createSnapshot({ name: 'e2b-named-snap' });
      assert.equal(again.snapshotId, 'e2b-named-snap:default');
      await assert.rejects(source.createSnapshot({ name: 'e2b-tags' }), /taken|template/);
    } finally {
      await source.kill();
    }
    const started = await Sandbox.create('e2b-named-snap', { timeoutMs: 60_000 });
    try {
      assert.equal(await started.files.read('n.txt'), 'second');
    } finally {
      await started.kill();
    }
    assert.equal((await Sandbox.listSnapshots({ name: 'e2b-named-snap' }).nextItems()).length, 1);
    assert.equal(await Sandbox.deleteSnapshot('e2b-named-snap'), true);
  });
});
