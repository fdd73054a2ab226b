/**
 * E2B snapshots, tags and the template listing under attack: another key starting from, listing,
 * deleting or re-taking the name of A's snapshot; reaching the snapshot's hidden copy by its id
 * through the envd routes; tagging, untagging, reading or deleting A's template; tags and
 * names that are not names; a template A published, which B may only start sandboxes from.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Recorder } from './figures.js';
import { type RawResponse, send } from './http.js';
import { type LiveServer, liveServer, stopAndCheck } from './live.js';

const rec = new Recorder('e2b-snapshots', 'E2B snapshots and template tags: tenants and names', 8);
const KEY_A = `e2b_${randomBytes(20).toString('hex')}`;
const KEY_B = `e2b_${randomBytes(20).toString('hex')}`;
const json = (res: RawResponse) => JSON.parse(res.body) as Record<string, unknown>;

describe('E2B snapshots and tags: hostile tenants and names', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let source: { sandboxID: string; envdAccessToken: string };
  let snapshotId: string;

  const control = (method: string, path: string, key: string, body?: unknown) =>
    send(live.url, {
      method,
      path: `/e2b${path}`,
      headers: { 'Content-Type': 'application/json', 'X-API-KEY': key },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });

  before(async () => {
    live = await liveServer({ apiKeys: [KEY_A, KEY_B] });
    await live.engine.ensureTemplate({ id: 'e2b-base' });
    const created = await control('POST', '/sandboxes', KEY_A, { templateID: 'base', timeout: 600 });
    assert.equal(created.status, 201, created.body);
    source = json(created) as unknown as typeof source;
    const taken = await control('POST', `/sandboxes/${source.sandboxID}/snapshots`, KEY_A, { name: 'a-snap' });
    assert.equal(taken.status, 201, taken.body);
    snapshotId = String(json(taken).snapshotID);
  });
  after(() => stopAndCheck(live, rec, [KEY_A, KEY_B]));

  test("B can neither start from, list, delete, snapshot nor take the name of A's snapshot", async () => {
    const attempts: [string, string, unknown?, number?][] = [
      ['POST', '/sandboxes', { templateID: snapshotId }],
      ['POST', '/v2/sandboxes', { templateID: 'a-snap' }],
      ['DELETE', `/templates/${encodeURIComponent(snapshotId)}`],
      ['POST', `/sandboxes/${source.sandboxID}/snapshots`, {}],
      ['POST', `/sandboxes/${source.sandboxID}/snapshots`, { name: 'b-snap' }],
      ['GET', '/templates/a-snap'],
    ];
    for (const [method, path, body] of attempts) {
      const res = await control(method, path, KEY_B, body);
      rec.count('attacks');
      assert.equal(res.status, 404, `${method} ${path}: ${res.body}`);
    }
    assert.equal((await control('GET', '/snapshots', KEY_B)).body, '[]');
    assert.equal((await control('GET', `/snapshots?sandboxID=${source.sandboxID}`, KEY_B)).body, '[]');
    // B's own snapshot cannot take A's snapshot name (and so replace it).
    const mine = json(await control('POST', '/sandboxes', KEY_B, { templateID: 'base', timeout: 600 }));
    const clash = await control('POST', `/sandboxes/${mine.sandboxID}/snapshots`, KEY_B, { name: 'a-snap' });
    rec.count('attacks');
    assert.equal(clash.status, 409, clash.body);
    const started = await control('POST', '/sandboxes', KEY_A, { templateID: snapshotId, timeout: 60 });
    assert.equal(started.status, 201, "A's snapshot still starts sandboxes");
    rec.check(
      `${attempts.length + 3} calls on A's snapshot with B's key, B's snapshot under A's snapshot name`,
      '404, empty listings; 409',
    );
  });

  test("the snapshot's hidden copy answers no envd call and no control call, whatever the token", async () => {
    const known = new Set(
      (JSON.parse((await control('GET', '/v2/sandboxes', KEY_A)).body) as { sandboxID: string }[]).map(
        (s) => s.sandboxID,
      ),
    );
    const hidden = live.engine.list().filter((s) => s.parentId === source.sandboxID && !known.has(s.id));
    assert.equal(hidden.length, 1, 'the snapshot is one fork of its source');
    const id = (hidden[0] as { id: string }).id;
    for (const token of [source.envdAccessToken, 'x'.repeat(64)]) {
      const res = await send(live.url, {
        method: 'GET',
        path: '/e2b/files?path=/etc/hostname',
        headers: { 'E2b-Sandbox-Id': id, 'E2b-Sandbox-Port': '49983', 'X-Access-Token': token },
      });
      rec.count('attacks');
      // Not an E2B sandbox: no token opens it (the token check answers before the lookup).
      assert.ok(res.status === 401 || res.status === 404, `${res.status} ${res.body}`);
    }
    for (const [method, path] of [
      ['GET', `/sandboxes/${id}`],
      ['DELETE', `/sandboxes/${id}`],
      ['POST', `/sandboxes/${id}/snapshots`],
    ] as const) {
      rec.count('attacks');
      assert.equal((await control(method, path, KEY_A, {})).status, 404, `${method} ${path}`);
    }
    rec.check("envd and control calls on the snapshot's hidden copy by its id", '401/404');
  });

  test("B cannot tag, untag, read or delete A's template; bad tags and names are refused", async () => {
    const opened = json(await control('POST', '/v3/templates', KEY_A, { name: 'a-tpl' }));
    const start = await control('POST', `/v2/templates/a-tpl/builds/${opened.buildID}`, KEY_A, {
      fromTemplate: 'base',
      steps: [],
    });
    assert.equal(start.status, 202, start.body);
    const deadline = Date.now() + 120_000;
    let status = 'building';
    while (status !== 'ready' && status !== 'error' && Date.now() < deadline) {
      status = String(json(await control('GET', `/templates/a-tpl/builds/${opened.buildID}/status`, KEY_A)).status);
      if (status !== 'ready' && status !== 'error') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 'ready');
    const attempts: [string, string, unknown?][] = [
      ['POST', '/templates/tags', { target: 'a-tpl', tags: ['b-owned'] }],
      ['POST', '/templates/tags', { target: 'a-tpl:default', tags: ['default'] }],
      ['DELETE', '/templates/tags', { name: 'a-tpl', tags: ['default'] }],
      ['GET', '/templates/a-tpl/tags'],
      ['GET', '/templates/a-tpl'],
      ['PATCH', '/v2/templates/a-tpl', { public: false }],
      ['GET', `/templates/a-tpl/builds/${opened.buildID}/logs`],
      ['DELETE', '/templates/a-tpl'],
    ];
    for (const [method, path, body] of attempts) {
      const res = await control(method, path, KEY_B, body);
      rec.count('attacks');
      assert.equal(res.status, 404, `${method} ${path}: ${res.body}`);
    }
    assert.equal((await control('GET', '/templates', KEY_B)).body, '[]');
    for (const tags of [['../x'], ['a b'], ['x'.repeat(65)], ['']]) {
      const res = await control('POST', '/templates/tags', KEY_A, { target: 'a-tpl', tags });
      rec.count('attacks');
      assert.equal(res.status, 400, `${JSON.stringify(tags)}: ${res.body}`);
    }
    for (const name of ['../a', 'a-tpl:../x', 'a/b']) {
      const res = await control('POST', `/sandboxes/${source.sandboxID}/snapshots`, KEY_A, { name });
      rec.count('attacks');
      assert.equal(res.status, 400, `${name}: ${res.body}`);
    }
    const tags = JSON.parse((await control('GET', '/templates/a-tpl/tags', KEY_A)).body) as { tag: string }[];
    assert.deepEqual(
      tags.map((t) => t.tag),
      ['default'],
      'no tag was made',
    );
    rec.check(
      `${attempts.length} tag and template calls on A's template with B's key; tags and snapshot names that are not names`,
      '404 and an empty listing; 400 and nothing made',
    );
  });

  test('a template A published starts sandboxes for B and gives B nothing else', async () => {
    // B cannot publish A's template, nor can A publish a snapshot (snapshots are not templates).
    assert.equal((await control('PATCH', '/templates/a-tpl', KEY_B, { public: true })).status, 404);
    assert.equal((await control('PATCH', '/templates/a-snap', KEY_A, { public: true })).status, 404);
    rec.count('attacks', 2);
    assert.equal((await control('POST', '/sandboxes', KEY_B, { templateID: 'a-tpl', timeout: 60 })).status, 404);
    const published = await control('PATCH', '/v2/templates/a-tpl', KEY_A, { public: true });
    assert.equal(published.status, 200, published.body);

    const made = await control('POST', '/sandboxes', KEY_B, { templateID: 'a-tpl', timeout: 60 });
    assert.equal(made.status, 201, made.body);
    const bSandbox = String(json(made).sandboxID);
    // The sandbox is B's: A neither sees nor ends it.
    assert.equal((await control('GET', `/sandboxes/${bSandbox}`, KEY_A)).status, 404);
    assert.equal((await control('DELETE', `/sandboxes/${bSandbox}`, KEY_A)).status, 404);
    assert.ok(!(await control('GET', '/sandboxes', KEY_A)).body.includes(bSandbox));
    const attempts: [string, string, unknown?][] = [
      ['PATCH', '/v2/templates/a-tpl', { public: false }],
      ['DELETE', '/templates/a-tpl'],
      ['GET', '/templates/a-tpl'],
      ['GET', '/templates/a-tpl/tags'],
      ['POST', '/templates/tags', { target: 'a-tpl', tags: ['b-owned'] }],
      ['DELETE', '/templates/tags', { name: 'a-tpl', tags: ['default'] }],
    ];
    for (const [method, path, body] of attempts) {
      const res = await control(method, path, KEY_B, body);
      assert.equal(res.status, 404, `${method} ${path}: ${res.body}`);
    }
    // Building into its name would replace what A's sandboxes start from.
    const rebuild = await control('POST', '/v3/templates', KEY_B, { name: 'a-tpl' });
    assert.equal(rebuild.status, 409, rebuild.body);
    assert.equal((await control('GET', '/templates', KEY_B)).body, '[]');
    rec.count('attacks', attempts.length + 4);

    const unpublished = await control('PATCH', '/v2/templates/a-tpl', KEY_A, { public: false });
    assert.equal(unpublished.status, 200, unpublished.body);
    assert.equal((await control('POST', '/sandboxes', KEY_B, { templateID: 'a-tpl', timeout: 60 })).status, 404);
    assert.equal((await control('GET', '/templates/aliases/a-tpl', KEY_B)).status, 403);
    rec.count('attacks', 2);
    assert.equal((await control('DELETE', `/sandboxes/${bSandbox}`, KEY_B)).status, 204);
    rec.check(
      "B on A's published template: publish, delete, read, tag, untag, rebuild it; A on B's sandbox from it; after unpublishing",
      'B only starts sandboxes (its own) while published; 404/409 otherwise, 404 once unpublished',
    );
  });
});
