/**
 * The web console's surface against a local attacker: its static files never reach past the
 * bundle however the path is spelled, the page itself carries no key, the event stream and
 * the terminal need the key like every other route, the key is taken only from the places a
 * client puts it (never a query string), and it never reaches a log line.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BEARER_SUBPROTOCOL_PREFIX, PTY_SUBPROTOCOL } from '@mitos/protocol';
import { Recorder } from './figures.js';
import { leaksOf } from './host.js';
import { send, sendRaw } from './http.js';
import { type LiveServer, liveServer } from './live.js';

const rec = new Recorder('console', 'Web console surface', 8);
const API_KEY = `console-key-${randomBytes(16).toString('hex')}`;
const auth = { Authorization: `Bearer ${API_KEY}` };

describe('the web console surface', { timeout: 300_000 }, () => {
  let live: LiveServer;
  /** Bytes no console response may ever contain: the database and a host file. */
  let secrets: string[];

  before(async () => {
    live = await liveServer({ apiKeys: [API_KEY] });
    secrets = ['SQLite format 3', readFileSync('/etc/passwd', 'utf8').split('\n')[0] as string];
  });
  after(async () => {
    const { stateDir, cgroupParent } = live.env;
    const logs = live.logs.join('\n');
    await live.stop();
    rec.save();
    assert.ok(!logs.includes(API_KEY), 'the API key reached the server log');
    assert.deepEqual(leaksOf(stateDir, cgroupParent), []);
  });

  test('static paths never leave the bundle', async () => {
    const page = await send(live.url, { method: 'GET', path: '/console/' });
    assert.equal(page.status, 200, 'the console is built (npm run build)');
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(page.body)?.[1];
    assert.ok(script, 'the page loads its bundle');
    const attempts = [
      '/console/../mitos.db',
      '/console/..%2fmitos.db',
      '/console/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/console/assets/../../../../../../etc/passwd',
      '/console/assets/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd',
      '/console/assets/..%5c..%5c..%5cetc%5cpasswd',
      '/console/assets/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd',
      '/console//etc/passwd',
      '/console/%00',
      `/console/assets/${'a/'.repeat(2000)}x.js`,
      `${script}%00.html`,
      `${script}/..`,
      '/console/index.html/../../mitos.db',
    ];
    for (const path of attempts) {
      for (const raw of [false, true]) {
        const res = raw
          ? await sendRaw(
              live.url,
              Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`, 'latin1'),
            )
          : await send(live.url, { method: 'GET', path });
        rec.count('attacks');
        assert.ok([400, 401, 404].includes(res.status), `${path}: ${res.status}`);
        for (const secret of secrets) assert.ok(!res.body.includes(secret), `${path} leaked ${secret.slice(0, 20)}`);
      }
    }
    rec.check(`${attempts.length * 2} traversal spellings under /console`, '400/401/404, nothing outside the bundle');
  });

  test('the page and its bundle hold no key, and the page forbids foreign scripts and framing', async () => {
    const page = await send(live.url, { method: 'GET', path: '/console/' });
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(page.body)?.[1] as string;
    const bundle = await send(live.url, { method: 'GET', path: script });
    assert.equal(bundle.status, 200);
    assert.ok(!bundle.body.includes(API_KEY) && !page.body.includes(API_KEY));
    // The key form posts (were the script ever bypassed, the key would not land in the URL).
    assert.match(bundle.body, /method:"post"/);
    rec.check('console page', 'CSP self-only scripts, no framing, no key in page or bundle');
  });

  test('the event stream needs the key, from the header only', async () => {
    const refusals: Array<[string, Record<string, string>, string]> = [
      ['no key', {}, '/v1/events'],
      ['wrong key', { Authorization: 'Bearer wrong' }, '/v1/events'],
      ['key in the query', {}, `/v1/events?token=${API_KEY}`],
      ['key as api_key', {}, `/v1/events?api_key=${API_KEY}`],
      ['key as a cookie', { Cookie: `mitos=${API_KEY}` }, '/v1/events'],
      [
        'key as a subprotocol without an upgrade',
        { 'Sec-WebSocket-Protocol': `${BEARER_SUBPROTOCOL_PREFIX}${Buffer.from(API_KEY).toString('base64url')}` },
        '/v1/events',
      ],
      ['key with a body', { ...auth, 'Content-Type': 'application/json' }, '/v1/events'],
    ];
    for (const [label, headers, path] of refusals) {
      const res = await send(live.url, {
        method: 'GET',
        path,
        headers,
        ...(label === 'key with a body' && { body: '{}' }),
      });
      rec.count('attacks');
      assert.ok([400, 401].includes(res.status), `${label}: ${res.status}`);
      assert.ok(!res.body.includes(API_KEY), `${label}: key echoed`);
    }
    rec.check('event stream without the key in the Authorization header', `${refusals.length} ways refused`);
  });

  test('the terminal refuses a wrong key offered as a subprotocol, before the upgrade', async () => {
    // Auth runs before the sandbox is looked up, so a ghost id shows the refusal is the key's.
    const sandbox = 'console-ghost';
    for (const offered of [
      `${BEARER_SUBPROTOCOL_PREFIX}${Buffer.from('wrong').toString('base64url')}`,
      `${BEARER_SUBPROTOCOL_PREFIX}`,
    ]) {
      const res = await send(live.url, {
        method: 'GET',
        path: `/v1/pty?sandbox=${sandbox}`,
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
          'Sec-WebSocket-Protocol': `${PTY_SUBPROTOCOL}, ${offered}`,
        },
      });
      rec.count('attacks');
      assert.equal(res.status, 401);
    }
    rec.check('terminal with a wrong subprotocol key', '401 before the upgrade');
  });

  test('a browser gets the console at /, API clients keep JSON', async () => {
    const browser = await send(live.url, { method: 'GET', path: '/', headers: { Accept: 'text/html' } });
    assert.equal(browser.status, 302);
    assert.equal(browser.headers.location, '/console/');
    const client = await send(live.url, { method: 'GET', path: '/', headers: auth });
    assert.equal(client.status, 404);
    assert.equal(JSON.parse(client.body).error.code, 'not_found');
    rec.check('GET /', 'browsers redirected to /console/, API clients a JSON 404');
  });

  test('the state directory holds the database the attacks aimed at', () => {
    // So the traversal checks above are not vacuous: there was something to steal.
    assert.ok(readFileSync(join(live.env.stateDir, 'mitos.db')).subarray(0, 15).toString() === 'SQLite format 3');
  });
});
