import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GO_MODE_DIR } from '@mitos/protocol';
import { makeTestApp, type TestApp, withSandbox } from '@mitos/testkit/server';

async function ready(): Promise<TestApp> {
  const t = makeTestApp();
  await withSandbox(t);
  return t;
}

describe('POST /v1/files/*', () => {
  it('writes and reads text', async () => {
    const t = await ready();
    const write = await t.call('/v1/files/write', {
      sandbox: 'sb-1',
      path: '/work/a.txt',
      content: 'héllo',
      mode: 420,
    });
    assert.equal(write.status, 200);
    assert.deepEqual(write.body, { status: 'ok' });
    const read = await t.call('/v1/files/read', { sandbox: 'sb-1', path: '/work/a.txt' });
    assert.deepEqual(read.body, { content: 'héllo', size: 6 });
  });

  it('round-trips bytes as lowercase hex when binary is true', async () => {
    const t = await ready();
    const bytes = Buffer.from([0x00, 0xff, 0x10, 0xab, 0x80]);
    const write = await t.call('/v1/files/write', {
      sandbox: 'sb-1',
      path: '/bin.dat',
      content: bytes.toString('hex').toUpperCase(),
      binary: true,
    });
    assert.equal(write.status, 200);
    const read = await t.call('/v1/files/read', { sandbox: 'sb-1', path: '/bin.dat', binary: true });
    assert.equal(read.body.content, '00ff10ab80');
    assert.equal(read.body.size, 5);
    // Without binary the same bytes come back as (lossy) text, not hex.
    const text = await t.call('/v1/files/read', { sandbox: 'sb-1', path: '/bin.dat' });
    assert.notEqual(text.body.content, '00ff10ab80');
  });

  it('refuses invalid hex on a binary write', async () => {
    const t = await ready();
    for (const content of ['abc', 'zz', '0g']) {
      const res = await t.call('/v1/files/write', { sandbox: 'sb-1', path: '/x', content, binary: true });
      assert.equal(res.status, 400, content);
      assert.equal(res.body.error.code, 'invalid_json');
    }
  });

  it('honours mode, defaulting 0 or absent to 0644', async () => {
    const t = await ready();
    await t.call('/v1/files/write', { sandbox: 'sb-1', path: '/d/run.sh', content: '#!/bin/sh', mode: 0o755 });
    await t.call('/v1/files/write', { sandbox: 'sb-1', path: '/d/zero', content: '', mode: 0 });
    await t.call('/v1/files/write', { sandbox: 'sb-1', path: '/d/none', content: '' });
    const list = await t.call('/v1/files/list', { sandbox: 'sb-1', path: '/d' });
    const modes = Object.fromEntries(list.body.entries.map((e: { name: string; mode: number }) => [e.name, e.mode]));
    assert.deepEqual(modes, { 'run.sh': 0o755, zero: 0o644, none: 0o644 });
  });

  it('lists a directory with Go FileMode bits and unix-second times', async () => {
    const t = await ready();
    await t.call('/v1/files/write', { sandbox: 'sb-1', path: '/d/a.txt', content: 'abc' });
    await t.call('/v1/files/mkdir', { sandbox: 'sb-1', path: '/d/sub' });
    const list = await t.call('/v1/files/list', { sandbox: 'sb-1', path: '/d' });
    assert.equal(list.status, 200);
    const byName = Object.fromEntries(list.body.entries.map((e: { name: string }) => [e.name, e]));
    assert.deepEqual(Object.keys(byName).sort(), ['a.txt', 'sub']);
    assert.equal(byName['a.txt'].is_dir, false);
    assert.equal(byName['a.txt'].size, 3);
    assert.equal(byName['a.txt'].mode, 0o644);
    assert.equal(byName.sub.is_dir, true);
    assert.equal(byName.sub.mode, GO_MODE_DIR + 0o755);
    assert.equal(byName.sub.mode, 2147484141);
    assert.ok(Number.isInteger(byName.sub.modified_at));
    assert.ok(Math.abs(byName.sub.modified_at - Date.now() / 1000) < 60);
  });

  it('lists an empty directory as [] (never null) and a file as itself', async () => {
    const t = await ready();
    await t.call('/v1/files/mkdir', { sandbox: 'sb-1', path: '/empty' });
    assert.deepEqual((await t.call('/v1/files/list', { sandbox: 'sb-1', path: '/empty' })).body, { entries: [] });
    await t.call('/v1/files/write', { sandbox: 'sb-1', path: '/f.txt', content: 'x' });
    const file = await t.call('/v1/files/list', { sandbox: 'sb-1', path: '/f.txt' });
    assert.equal(file.status, 200);
    assert.equal(file.body.entries.length, 1);
    assert.equal(file.body.entries[0].name, 'f.txt');
  });

  it('answers 404 not_found with sandbox and path for a missing path', async () => {
    const t = await ready();
    for (const verb of ['read', 'list']) {
      const res = await t.call(`/v1/files/${verb}`, { sandbox: 'sb-1', path: '/nope' });
      assert.equal(res.status, 404, verb);
      assert.equal(res.body.error.code, 'not_found');
      assert.deepEqual(res.body.error.context, { sandbox: 'sb-1', path: '/nope' });
    }
  });

  it('maps other failures to 500 file_failed with context and no host path', async () => {
    const t = await ready();
    await t.call('/v1/files/mkdir', { sandbox: 'sb-1', path: '/dir' });
    const res = await t.call('/v1/files/read', { sandbox: 'sb-1', path: '/dir' });
    assert.equal(res.status, 500);
    assert.equal(res.body.error.code, 'file_failed');
    assert.deepEqual(res.body.error.context, { sandbox: 'sb-1', path: '/dir' });
    assert.match(res.body.error.cause, /^EISDIR/);
    assert.doesNotMatch(res.text, /var\/lib\/mitos/);

    await t.call('/v1/files/write', { sandbox: 'sb-1', path: '/file', content: '' });
    const mkdir = await t.call('/v1/files/mkdir', { sandbox: 'sb-1', path: '/file/sub' });
    assert.equal(mkdir.status, 500);
    assert.equal(mkdir.body.error.code, 'file_failed');
    assert.deepEqual(mkdir.body.error.context, { sandbox: 'sb-1', path: '/file/sub' });
  });

  it('removes recursively, and removing a missing path is fine', async () => {
    const t = await ready();
    await t.call('/v1/files/write', { sandbox: 'sb-1', path: '/r/a/b.txt', content: 'x' });
    assert.deepEqual((await t.call('/v1/files/remove', { sandbox: 'sb-1', path: '/r' })).body, { status: 'ok' });
    assert.equal((await t.call('/v1/files/list', { sandbox: 'sb-1', path: '/r' })).status, 404);
    assert.equal((await t.call('/v1/files/remove', { sandbox: 'sb-1', path: '/r' })).status, 200);
  });

  it('makes directories idempotently', async () => {
    const t = await ready();
    assert.equal((await t.call('/v1/files/mkdir', { sandbox: 'sb-1', path: '/m/n' })).status, 200);
    assert.equal((await t.call('/v1/files/mkdir', { sandbox: 'sb-1', path: '/m/n' })).status, 200);
  });

  it('answers 404 for an unknown sandbox on every verb', async () => {
    const t = makeTestApp();
    for (const verb of ['read', 'write', 'list', 'remove', 'mkdir']) {
      const res = await t.call(`/v1/files/${verb}`, { sandbox: 'sb-9', path: '/x', content: '' });
      assert.equal(res.status, 404, verb);
      assert.equal(res.body.error.code, 'not_found');
    }
  });

  it('rejects missing fields, empty paths and NUL in paths with 400', async () => {
    const t = await ready();
    const cases: Array<[string, unknown]> = [
      ['read', { sandbox: 'sb-1' }],
      ['read', { sandbox: 'sb-1', path: '' }],
      ['read', { sandbox: 'sb-1', path: '/a\u0000b' }],
      ['write', { sandbox: 'sb-1', path: '/a' }],
      ['write', { sandbox: 'sb-1', path: '/a', content: 'x', mode: 0o10000 }],
      ['list', { path: '/' }],
    ];
    for (const [verb, body] of cases) {
      const res = await t.call(`/v1/files/${verb}`, body);
      assert.equal(res.status, 400, `${verb} ${JSON.stringify(body)}`);
      assert.equal(res.body.error.code, 'invalid_json');
    }
  });
});
