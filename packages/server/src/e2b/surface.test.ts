/**
 * The E2B surface over the fake engine: both Connect codecs, tokenless keys as tenants, and
 * create options that cannot be enforced. (The real SDKs against the real engine are in
 * packages/e2b-compat.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { makeTestApp } from '@mitos/testkit/server';
import { StatRequestSchema, StatResponseSchema } from './gen/filesystem/filesystem_pb.js';

const KEY_A = `e2b_${'a'.repeat(40)}`;
const KEY_B = `e2b_${'b'.repeat(40)}`;

async function setup() {
  const t = makeTestApp();
  await t.engine.ensureTemplate({ id: 'base' });
  const created = await t.call(
    '/e2b/sandboxes',
    { templateID: 'base', timeout: 60 },
    { headers: { 'X-API-KEY': KEY_A } },
  );
  assert.equal(created.status, 201, created.text);
  await t.engine.files.write(created.body.sandboxID, '/home/user/x.txt', Buffer.from('hello'));
  return { t, id: created.body.sandboxID as string, token: created.body.envdAccessToken as string };
}

test('envd answers Connect in binary and in JSON', async () => {
  const { t, id, token } = await setup();
  const headers = { 'E2b-Sandbox-Id': id, 'X-Access-Token': token, 'Connect-Protocol-Version': '1' };
  const binary = await t.app.request('http://localhost/e2b/filesystem.Filesystem/Stat', {
    method: 'POST',
    headers: { ...headers, 'Content-Type': 'application/proto' },
    body: toBinary(StatRequestSchema, create(StatRequestSchema, { path: 'x.txt' })),
  });
  assert.equal(binary.status, 200);
  const decoded = fromBinary(StatResponseSchema, new Uint8Array(await binary.arrayBuffer()));
  assert.equal(decoded.entry?.path, '/home/user/x.txt');
  assert.equal(decoded.entry?.size, 5n);
  const json = await t.call(
    '/e2b/filesystem.Filesystem/Stat',
    { path: '/home/user/x.txt', someFutureField: 1 },
    { headers },
  );
  assert.equal(json.status, 200, json.text);
  assert.equal(json.body.entry.name, 'x.txt');
  const missing = await t.call('/e2b/filesystem.Filesystem/Stat', { path: 'nope' }, { headers });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.code, 'not_found');
});

test('tokenless: any well-formed key is its own tenant; malformed keys are refused', async () => {
  const { t, id } = await setup();
  const other = await t.call(`/e2b/sandboxes/${id}`, undefined, { headers: { 'X-API-KEY': KEY_B } });
  assert.equal(other.status, 404);
  const mine = await t.call(`/e2b/sandboxes/${id}`, undefined, { headers: { 'X-API-KEY': KEY_A } });
  assert.equal(mine.status, 200);
  assert.equal(mine.body.state, 'running');
  const bad = await t.call('/e2b/v2/sandboxes', undefined, { headers: { 'X-API-KEY': 'sk-not-e2b' } });
  assert.equal(bad.status, 401);
  assert.deepEqual(Object.keys(bad.body).sort(), ['code', 'message']);
});

test("a sandbox's record and its kill read the engine's row once", async () => {
  const { t, id } = await setup();
  const headers = { 'X-API-KEY': KEY_A };
  const reads = async (send: () => Promise<{ status: number }>, status: number) => {
    const before = t.engine.lookups;
    assert.equal((await send()).status, status);
    return t.engine.lookups - before;
  };
  const record = await reads(() => t.call(`/e2b/sandboxes/${id}`, undefined, { headers }), 200);
  const kill = await reads(() => t.call(`/e2b/sandboxes/${id}`, undefined, { headers, method: 'DELETE' }), 204);
  assert.deepEqual([record, kill], [1, 1]);
  assert.equal(t.engine.get(id), undefined);
  const again = await t.call(`/e2b/sandboxes/${id}`, undefined, { headers, method: 'DELETE' });
  assert.equal(again.status, 404);
});

test('create refuses what it cannot enforce and makes nothing', async () => {
  const t = makeTestApp();
  await t.engine.ensureTemplate({ id: 'base' });
  const headers = { 'X-API-KEY': KEY_A };
  for (const body of [
    { templateID: 'base', allow_internet_access: true, network: { denyOut: ['10.0.0.0/8'] } },
    { templateID: 'base', autoPause: true },
    { templateID: 'base', mcp: { server: {} } },
    { templateID: 'base', volumeMounts: [{ name: 'v', path: '/data' }] },
  ]) {
    const res = await t.call('/e2b/sandboxes', body, { headers });
    assert.equal(res.status, 501, JSON.stringify(body));
    assert.match(res.body.message, /not_implemented/);
  }
  assert.equal(t.engine.list().length, 0);
  const denied = await t.call(
    '/e2b/sandboxes',
    { templateID: 'base', allow_internet_access: false, network: { denyOut: ['0.0.0.0/0'] } },
    { headers },
  );
  assert.equal(denied.status, 201);
  assert.deepEqual(t.engine.createCalls.at(-1)?.network, { egress: 'deny', inbound: 'deny' });
  // Internet access and allowOut map onto the sandbox's posture.
  const open = await t.call('/e2b/sandboxes', { templateID: 'base', allow_internet_access: true }, { headers });
  assert.equal(open.status, 201);
  assert.deepEqual(t.engine.createCalls.at(-1)?.network, { egress: 'allow', inbound: 'deny' });
  const listed = await t.call(
    '/e2b/sandboxes',
    { templateID: 'base', network: { allowOut: ['1.1.1.1', 'pypi.org'], denyOut: ['0.0.0.0/0'] } },
    { headers },
  );
  assert.equal(listed.status, 201);
  assert.deepEqual(t.engine.createCalls.at(-1)?.network, {
    egress: 'deny',
    inbound: 'deny',
    allow_cidrs: ['1.1.1.1/32'],
    allow_domains: ['pypi.org:443', 'pypi.org:80'],
  });
  for (const network of [
    { allowOut: ['bad name!'] },
    // E2B takes names in allowOut only, and no ports.
    { allowOut: ['pypi.org'], denyOut: ['evil.example.com'] },
    { allowOut: ['pypi.org:22'], denyOut: ['0.0.0.0/0'] },
  ]) {
    const junk = await t.call('/e2b/sandboxes', { templateID: 'base', network }, { headers });
    assert.equal(junk.status, 400, JSON.stringify(network));
  }
  assert.equal(t.engine.list().length, 3);
  const unknown = await t.call('/e2b/sandboxes', { templateID: 'no-such-template' }, { headers });
  assert.equal(unknown.status, 404);
  const build = await t.call('/e2b/v3/templates', { name: 'x' }, { headers });
  assert.equal(build.status, 501);
});

/** Connect streaming envelopes: flags byte, big-endian length, JSON. */
function envelopes(...messages: unknown[]): Buffer {
  return Buffer.concat(
    messages.map((m) => {
      const payload = Buffer.from(JSON.stringify(m));
      const head = Buffer.alloc(5);
      head.writeUInt32BE(payload.length, 1);
      return Buffer.concat([head, payload]);
    }),
  );
}

async function* readEnvelopes(body: ReadableStream<Uint8Array>): AsyncGenerator<Record<string, unknown>> {
  let buffered = Buffer.alloc(0);
  for await (const chunk of body) {
    buffered = Buffer.concat([buffered, Buffer.from(chunk)]);
    while (buffered.length >= 5 && buffered.length >= 5 + buffered.readUInt32BE(1)) {
      const length = buffered.readUInt32BE(1);
      yield JSON.parse(buffered.subarray(5, 5 + length).toString('utf8')) as Record<string, unknown>;
      buffered = buffered.subarray(5 + length);
    }
  }
}

test('a process stream sends keepalives while idle; StreamInput feeds stdin; SendSignal ends it', async () => {
  const { t, id, token } = await setup();
  const headers = { 'E2b-Sandbox-Id': id, 'X-Access-Token': token, 'Connect-Protocol-Version': '1' };
  const started = await t.app.request('http://localhost/e2b/process.Process/Start', {
    method: 'POST',
    headers: { ...headers, 'Content-Type': 'application/connect+json', 'Keepalive-Ping-Interval': '0.05' },
    body: envelopes({ process: { cmd: '/bin/bash', args: ['-l', '-c', 'cat'] }, stdin: true }),
  });
  assert.equal(started.status, 200);
  const events = readEnvelopes(started.body as ReadableStream<Uint8Array>);
  const first = (await events.next()).value as { event: { start: { pid: number } } };
  const pid = first.event.start.pid;
  assert.deepEqual((await events.next()).value, { event: { keepalive: {} } });
  const process = t.engine.processes.get(pid);
  assert.ok(process, 'the engine runs it');
  assert.equal(process.options.command, "exec '/bin/bash' '-l' '-c' 'cat'");
  assert.equal(process.options.user, 'user', "run as E2B's user account");
  const input = await t.app.request('http://localhost/e2b/process.Process/StreamInput', {
    method: 'POST',
    headers: { ...headers, 'Content-Type': 'application/connect+json' },
    body: envelopes(
      { start: { process: { pid } } },
      { data: { input: { stdin: Buffer.from('typed').toString('base64') } } },
    ),
  });
  assert.equal(input.status, 200, await input.clone().text());
  assert.equal(Buffer.concat(process.input).toString(), 'typed');
  const signal = await t.call(
    '/e2b/process.Process/SendSignal',
    { process: { pid }, signal: 'SIGNAL_SIGKILL' },
    { headers },
  );
  assert.equal(signal.status, 200, signal.text);
  let end: unknown;
  for await (const e of events)
    if ((e as { event?: { end?: unknown } }).event?.end) end = (e as { event: { end: unknown } }).event.end;
  assert.deepEqual(end, { exitCode: 137, status: 'signal: 9' });
});

test("older SDKs' connect (timeout, resume, get) and 2.6+ connect both bring a paused sandbox back", async () => {
  const { t, id } = await setup();
  const headers = { 'X-API-KEY': KEY_A };
  assert.equal((await t.call(`/e2b/sandboxes/${id}/pause`, {}, { headers })).status, 204);
  assert.equal((await t.call(`/e2b/sandboxes/${id}/pause`, {}, { headers })).status, 409);
  assert.equal(t.engine.getDeadline(id), null, 'a paused sandbox waits for resume or kill');
  assert.equal((await t.call(`/e2b/sandboxes/${id}/timeout`, { timeout: 30 }, { headers })).status, 204);
  const resumed = await t.call(`/e2b/sandboxes/${id}/resume`, { timeout: 30 }, { headers });
  assert.equal(resumed.status, 201, resumed.text);
  assert.equal((await t.call(`/e2b/sandboxes/${id}/resume`, { timeout: 30 }, { headers })).status, 409);
  const info = await t.call(`/e2b/sandboxes/${id}`, undefined, { headers });
  assert.equal(info.body.state, 'running');
  const left = Date.parse(info.body.endAt) - Date.now();
  assert.ok(left > 20_000 && left <= 30_000, `${left} ms left`);
  await t.call(`/e2b/sandboxes/${id}/pause`, {}, { headers });
  const connected = await t.call(`/e2b/v2/sandboxes/${id}/connect`, {}, { headers });
  assert.equal(connected.status, 201);
  const again = await t.call(`/e2b/sandboxes/${id}/connect`, { timeout: 10 }, { headers });
  assert.equal(again.status, 200, 'already running');
  assert.ok(
    Date.parse((await t.call(`/e2b/sandboxes/${id}`, undefined, { headers })).body.endAt) - Date.now() > 200_000,
    'connect only extends',
  );
});
