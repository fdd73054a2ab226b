import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTestApp, type TestApp } from '@mitos/testkit/server';

describe('the web console under /console', () => {
  let dir: string;
  let t: TestApp;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mitos-test-console-'));
    mkdirSync(join(dir, 'bundle', 'assets'), { recursive: true });
    writeFileSync(join(dir, 'bundle', 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(join(dir, 'bundle', 'assets', 'index-abc123.js'), 'console.log(1)');
    // Beside the bundle, never inside it: no request path may reach this.
    writeFileSync(join(dir, 'secret.txt'), 'not for the web');
    t = makeTestApp({ apiKeys: ['k-secret'], consoleDir: join(dir, 'bundle') });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('redirects a browser opening / and keeps JSON for API clients', async () => {
    const browser = await t.call('/', undefined, { headers: { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    assert.equal(browser.status, 302);
    assert.equal(browser.headers.get('location'), '/console/');
    const api = await t.call('/', undefined, {
      headers: { Accept: 'application/json', Authorization: 'Bearer k-secret' },
    });
    assert.equal(api.status, 404);
    assert.equal(api.body.error.code, 'not_found');
    const anonymous = await t.call('/');
    assert.equal(anonymous.status, 401);
  });

  it('serves the page without a key, with a strict content security policy', async () => {
    const page = await t.call('/console/');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.text, /<title>console<\/title>/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'.*script-src 'self'/);
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    assert.equal((await t.call('/console')).headers.get('location'), '/console/');
  });

  it('serves hashed bundle files as immutable and nothing else', async () => {
    const js = await t.call('/console/assets/index-abc123.js');
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(js.headers.get('cache-control') ?? '', /immutable/);
    for (const path of [
      '/console/../secret.txt',
      '/console/%2e%2e/secret.txt',
      '/console/assets/..%2f..%2fsecret.txt',
      '/console/assets/%2e%2e%5csecret.txt',
      '/console//secret.txt',
      '/console/nope.js',
    ]) {
      const res = await t.call(path);
      assert.ok(res.status === 404 || res.status === 401, `${path} answered ${res.status}`);
      assert.doesNotMatch(res.text, /not for the web/);
    }
  });

  it('refuses writes to the console paths', async () => {
    const res = await t.call('/console/', { x: 1 });
    assert.equal(res.status, 405);
    assert.equal(res.body.error.code, 'method_not_allowed');
  });

  it('explains a missing bundle with how to build it', async () => {
    const bare = makeTestApp({ consoleDir: join(dir, 'missing') });
    const res = await bare.call('/console/');
    assert.equal(res.status, 404);
    assert.match(res.body.error.remediation, /npm run build/);
  });

  it('leaves the API behind the key', async () => {
    assert.equal((await t.call('/v1/health')).status, 401);
    assert.equal((await t.call('/v1/events')).status, 401);
  });
});
