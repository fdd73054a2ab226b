/**
 * The E2B-compatible surface under attack: another tenant's sandbox named with its own key or
 * envd token, forged and borrowed tokens, signed URLs made with the wrong token, path escapes
 * through /files, bad API keys, private port traffic without its token, and template upload
 * links forged or filled with entries that leave the build context.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Recorder } from './figures.js';
import { type RawResponse, send } from './http.js';
import { type LiveServer, liveServer } from './live.js';

const rec = new Recorder('e2b', 'E2B-compatible surface: tenants, tokens, paths', 8);
const KEY_A = `e2b_${randomBytes(20).toString('hex')}`;
const KEY_B = `e2b_${randomBytes(20).toString('hex')}`;
const MITOS_KEY = `mitos-${randomBytes(16).toString('hex')}`;

interface Created {
  sandboxID: string;
  envdAccessToken: string;
  trafficAccessToken: string | null;
}

const json = (res: RawResponse) => JSON.parse(res.body) as Record<string, unknown>;

describe('E2B surface: hostile tenants and inputs', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let a: Created;
  let b: Created;

  const control = (method: string, path: string, key: string | undefined, body?: unknown) =>
    send(live.url, {
      method,
      path: `/e2b${path}`,
      headers: { 'Content-Type': 'application/json', ...(key !== undefined && { 'X-API-KEY': key }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  const envd = (
    sandboxId: string,
    token: string | undefined,
    method: string,
    path: string,
    body?: string,
    extra = {},
  ) =>
    send(live.url, {
      method,
      path: `/e2b${path}`,
      headers: {
        'E2b-Sandbox-Id': sandboxId,
        'E2b-Sandbox-Port': '49983',
        ...(token !== undefined && { 'X-Access-Token': token }),
        ...(body !== undefined && { 'Content-Type': 'application/json' }),
        ...extra,
      },
      ...(body !== undefined && { body }),
    });
  /** A Connect server-streaming Start, read to its end (the command's exit). */
  const runAs = (s: Created, command: string) =>
    send(live.url, {
      method: 'POST',
      path: '/e2b/process.Process/Start',
      headers: {
        'E2b-Sandbox-Id': s.sandboxID,
        'X-Access-Token': s.envdAccessToken,
        'Content-Type': 'application/connect+json',
        'Connect-Protocol-Version': '1',
      },
      body: connectEnvelope({ process: { cmd: '/bin/bash', args: ['-c', command] } }),
    });

  before(async () => {
    live = await liveServer({ apiKeys: [KEY_A, KEY_B, MITOS_KEY] });
    // E2B's base template (our base image with the `user` account), ready before the first create.
    await live.engine.ensureTemplate({ id: 'e2b-base' });
    a = json(await control('POST', '/sandboxes', KEY_A, { templateID: 'base', timeout: 600 })) as unknown as Created;
    b = json(
      await control('POST', '/sandboxes', KEY_B, {
        templateID: 'base',
        timeout: 600,
        network: { allowPublicTraffic: false },
      }),
    ) as unknown as Created;
    assert.match(a.sandboxID, /^[a-z0-9]+$/);
    assert.match(b.sandboxID, /^[a-z0-9]+$/);
    const wrote = await envd(
      a.sandboxID,
      a.envdAccessToken,
      'POST',
      '/files?path=/home/user/secret.txt',
      'tenant-a-secret',
      {
        'Content-Type': 'application/octet-stream',
      },
    );
    assert.equal(wrote.status, 200, wrote.body);
  });
  after(async () => {
    rec.save();
    await live.stop();
  });

  test("another tenant's key sees nothing of A's sandbox", async () => {
    const attempts: [string, string, unknown?][] = [
      ['GET', `/sandboxes/${a.sandboxID}`],
      ['DELETE', `/sandboxes/${a.sandboxID}`],
      ['POST', `/sandboxes/${a.sandboxID}/timeout`, { timeout: 1 }],
      ['POST', `/sandboxes/${a.sandboxID}/connect`, { timeout: 10 }],
      ['POST', `/v2/sandboxes/${a.sandboxID}/connect`, {}],
      ['POST', `/sandboxes/${a.sandboxID}/pause`, {}],
      ['POST', `/sandboxes/${a.sandboxID}/fork`, { count: 1 }],
      ['GET', `/sandboxes/${a.sandboxID}/metrics`],
      ['GET', `/sandboxes/${a.sandboxID}/logs`],
    ];
    for (const [method, path, body] of attempts) {
      const res = await control(method, path, KEY_B, body);
      rec.count('attacks');
      assert.equal(res.status, 404, `${method} ${path}: ${res.body}`);
    }
    const listed = JSON.parse((await control('GET', '/v2/sandboxes', KEY_B)).body) as { sandboxID: string }[];
    assert.deepEqual(
      listed.map((s) => s.sandboxID),
      [b.sandboxID],
    );
    const stillThere = await control('GET', `/sandboxes/${a.sandboxID}`, KEY_A);
    assert.equal(stillThere.status, 200);
    rec.check(
      `${attempts.length} control-plane calls on A's sandbox with B's key`,
      '404, A untouched, B lists only its own',
    );
  });

  test("B's envd token never opens A's sandbox, however A is named", async () => {
    const forged = `${a.sandboxID}.${createHash('sha256').update('guess').digest('hex')}`;
    const cases: [string, string | undefined][] = [
      ["B's token", b.envdAccessToken],
      ['no token', undefined],
      ['forged token for A', forged],
      ['the API key as token', KEY_A],
    ];
    for (const [label, token] of cases) {
      for (const [method, path, body] of [
        ['GET', '/files?path=/home/user/secret.txt', undefined],
        ['POST', '/filesystem.Filesystem/ListDir', '{"path":"/home/user"}'],
        ['POST', '/process.Process/List', '{}'],
        ['GET', '/envs', undefined],
      ] as const) {
        const res = await envd(a.sandboxID, token, method, path, body);
        rec.count('attacks');
        assert.equal(res.status, 401, `${label} ${method} ${path}: ${res.status} ${res.body}`);
        assert.doesNotMatch(res.body, /tenant-a-secret/);
      }
    }
    // Without the sandbox header the token decides: B's token reaches B, never A.
    const own = await send(live.url, {
      method: 'GET',
      path: '/e2b/files?path=/home/user/secret.txt',
      headers: { 'X-Access-Token': b.envdAccessToken },
    });
    assert.equal(own.status, 404);
    rec.check(
      "envd calls naming A with B's token, no token, a forged token, an API key",
      '401; the token alone only reaches its own sandbox',
    );
  });

  test('signed file URLs open only the sandbox whose token signed them', async () => {
    const sign = (token: string, path: string, expiration?: number) =>
      encodeURIComponent(
        `v1_${createHash('sha256')
          .update(expiration === undefined ? `${path}:read::${token}` : `${path}:read::${token}:${expiration}`)
          .digest('base64')
          .replace(/=+$/, '')}`,
      );
    const good = await send(live.url, {
      method: 'GET',
      path: `/files?path=/home/user/secret.txt&signature=${sign(a.envdAccessToken, '/home/user/secret.txt')}`,
    });
    assert.equal(good.status, 200);
    assert.equal(good.body, 'tenant-a-secret');
    const withB = await send(live.url, {
      method: 'GET',
      path: `/files?path=/home/user/secret.txt&signature=${sign(b.envdAccessToken, '/home/user/secret.txt')}`,
    });
    assert.notEqual(withB.body, 'tenant-a-secret', "B's signature must not read A's file");
    assert.equal(withB.status, 404, "B's signature reads B's own (absent) file");
    const expired = Math.floor(Date.now() / 1000) - 5;
    const old = await send(live.url, {
      method: 'GET',
      path: `/files?path=/home/user/secret.txt&signature=${sign(a.envdAccessToken, '/home/user/secret.txt', expired)}&signature_expiration=${expired}`,
    });
    assert.equal(old.status, 401);
    const writeWithReadSig = await send(live.url, {
      method: 'POST',
      path: `/files?path=/home/user/secret.txt&signature=${sign(a.envdAccessToken, '/home/user/secret.txt')}`,
      headers: { 'Content-Type': 'application/octet-stream' },
      body: 'overwritten',
    });
    assert.equal(writeWithReadSig.status, 401);
    rec.count('attacks', 3);
    rec.check("signed URL made with B's token, an expired one, a read signature used to write", "never A's file; 401");
  });

  test('/files paths cannot leave the sandbox', async () => {
    assert.notEqual(
      readFileSync('/etc/hostname', 'utf8'),
      'mitos\n',
      'the host hostname differs from the sandbox placeholder',
    );
    const link = await runAs(a, 'ln -s / /home/user/rootlink && ln -s /proc/1/root /home/user/pid1root');
    assert.equal(link.status, 200);
    for (const path of [
      '../../../../../../etc/hostname',
      '/home/user/../../../etc/hostname',
      'rootlink/etc/hostname',
      'pid1root/etc/hostname',
      '/proc/self/root/etc/hostname',
    ]) {
      const res = await envd(a.sandboxID, a.envdAccessToken, 'GET', `/files?path=${encodeURIComponent(path)}`);
      rec.count('attacks');
      // Either the sandbox's own file (the template's placeholder, which the host's is not) or a refusal.
      if (res.status === 200) assert.equal(res.body, 'mitos\n', `${path} read the sandbox's own /etc/hostname`);
      else
        assert.doesNotMatch(res.body, new RegExp(readFileSync('/etc/hostname', 'utf8').trim()), `${path}: ${res.body}`);
    }
    const up = await envd(
      a.sandboxID,
      a.envdAccessToken,
      'POST',
      `/files?path=${encodeURIComponent('../../../../tmp/escaped-by-e2b')}`,
      'x',
      {
        'Content-Type': 'application/octet-stream',
      },
    );
    assert.equal(up.status, 200, up.body);
    assert.equal((JSON.parse(up.body) as { path: string }[])[0]?.path, '/tmp/escaped-by-e2b');
    assert.equal(existsSync('/tmp/escaped-by-e2b'), false, 'nothing was written on the host');
    rec.check('reads through .., symlinks to / and /proc/1/root; a write through ..', "the sandbox's own files only");
  });

  test('bad API keys are refused before anything happens', async () => {
    for (const [label, key] of [
      ['none', undefined],
      ['malformed', 'e2b_NOT-HEX'],
      ['unknown', `e2b_${'1'.repeat(40)}`],
      ['the mitos bearer key', MITOS_KEY],
    ] as const) {
      const res = await control('POST', '/sandboxes', key, { templateID: 'base' });
      rec.count('attacks');
      assert.equal(res.status, 401, `${label}: ${res.body}`);
      assert.equal(json(res).code, 401);
      assert.doesNotMatch(res.body, new RegExp(KEY_A));
    }
    const bearerOnly = await send(live.url, {
      method: 'GET',
      path: '/e2b/v2/sandboxes',
      headers: { Authorization: `Bearer ${MITOS_KEY}` },
    });
    assert.equal(bearerOnly.status, 401);
    rec.check('create with no, malformed, unknown and non-E2B keys; mitos bearer key on /e2b', '401 in E2B shape');
  });

  test('from inside a sandbox the server is out of reach', async () => {
    const port = new URL(live.url).port;
    const res = await runAs(a, `(exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null && echo reached || echo refused`);
    rec.count('attacks');
    assert.equal(res.status, 200);
    assert.equal(stdoutOf(res.body), 'refused\n');
    rec.check("a sandbox connecting to the server's port on its loopback", 'refused (own network namespace)');
  });

  test('port hosts only route to E2B sandboxes, never to other sandboxes on the server', async () => {
    const native = await send(live.url, {
      method: 'POST',
      path: '/v1/fork',
      headers: { Authorization: `Bearer ${MITOS_KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ template: 'e2b-base', id: 'nativebox' }),
    });
    assert.equal(native.status, 200, native.body);
    const res = await send(live.url, {
      method: 'GET',
      path: '/',
      headers: { Host: `8000-nativebox.localhost:${new URL(live.url).port}` },
    });
    rec.count('attacks');
    assert.equal(res.status, 401, 'not an E2B sandbox: the request falls through to the authenticated API');
    rec.check('a port host naming a sandbox created through /v1', 'not routed (401 from the API auth)');
  });

  test('private port traffic needs the traffic token', async () => {
    const host = `8000-${b.sandboxID}.localhost:${new URL(live.url).port}`;
    const res = await send(live.url, { method: 'GET', path: '/', headers: { Host: host } });
    rec.count('attacks');
    assert.equal(res.status, 403);
    const withToken = await send(live.url, {
      method: 'GET',
      path: '/',
      headers: { Host: host, 'E2B-Traffic-Access-Token': b.trafficAccessToken ?? '' },
    });
    assert.equal(withToken.status, 502, 'with the token the proxy reaches the (closed) port');
    const withAs = await send(live.url, {
      method: 'GET',
      path: '/',
      headers: { Host: host, 'E2B-Traffic-Access-Token': 'x'.repeat(64) },
    });
    assert.equal(withAs.status, 403);
    rec.check('port traffic to a sandbox created with allowPublicTraffic: false', '403 without its token');
  });

  test("template upload links open only their own tenant's slot; uploads cannot escape", async () => {
    const opened = await control('POST', '/v3/templates', KEY_A, { name: 'hardening-a' });
    assert.equal(opened.status, 202, opened.body);
    const hash = 'f'.repeat(64);
    const link = json(await control('GET', `/templates/hardening-a/files/${hash}`, KEY_A)) as { url: string };
    const url = new URL(link.url);
    const upload = (search: URLSearchParams, body: Buffer) =>
      send(live.url, { method: 'PUT', path: `${url.pathname}?${search}`, body });
    const good = ustar([{ name: 'ok.txt', body: 'fine' }]);
    // B names A's template, forges the tenant or the expiry, or drops the signature.
    assert.equal((await control('GET', `/templates/hardening-a/files/${hash}`, KEY_B)).status, 404);
    const forged = [
      { tenant: createHash('sha256').update(KEY_B).digest('hex') },
      { expires: String(Date.now() + 10 * 3600_000) },
      { signature: '0'.repeat(64) },
    ];
    for (const change of forged) {
      const search = new URLSearchParams(url.search);
      for (const [k, v] of Object.entries(change)) search.set(k, v);
      assert.equal((await upload(search, good)).status, 401, JSON.stringify(change));
      rec.count('attacks');
    }
    // A's own link: entries leaving the context or links are refused, and nothing is recorded.
    for (const entries of [[{ name: '../escape.txt', body: 'x' }], [{ name: 'link', body: '', link: '/etc/shadow' }]]) {
      const res = await upload(new URLSearchParams(url.search), ustar(entries));
      assert.ok(res.status === 400 || res.status === 501, `${res.status} ${res.body}`);
      const again = json(await control('GET', `/templates/hardening-a/files/${hash}`, KEY_A));
      assert.equal(again.present, false);
      rec.count('attacks');
    }
    assert.equal((await upload(new URLSearchParams(url.search), good)).status, 200);
    assert.equal(json(await control('GET', `/templates/hardening-a/files/${hash}`, KEY_A)).present, true);
    // What A uploaded under that hash is A's alone.
    assert.equal((await control('POST', '/v3/templates', KEY_B, { name: 'hardening-a' })).status, 409);
    rec.check(
      "template upload links with B's tenant, a moved expiry, no signature; tar entries with .. and symlinks",
      "401; 400/501 and nothing recorded; B cannot take A's template name",
    );
  });
});

/** A tar archive (ustar) of files, or symlinks when `link` is set. */
function ustar(entries: { name: string; body: string; link?: string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.link === undefined ? e.body : '');
    const h = Buffer.alloc(512);
    h.write(e.name, 0);
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.write(e.link === undefined ? '0' : '2', 156);
    if (e.link !== undefined) h.write(e.link, 157);
    h.write('ustar\0', 257);
    h.write('00', 263);
    h.fill(' ', 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** The stdout of a Start stream's JSON envelopes (bytes fields are base64). */
function stdoutOf(body: string): string {
  const chunks = [...body.matchAll(/"stdout":"([^"]*)"/g)].map((m) =>
    Buffer.from(m[1] ?? '', 'base64').toString('utf8'),
  );
  return chunks.join('');
}

/** One Connect streaming-request envelope (flags 0, length, JSON). */
function connectEnvelope(message: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(message));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}
