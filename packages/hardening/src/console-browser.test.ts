/**
 * The web console in a real Chromium against a hostile sandbox and a hostile page. What a
 * sandbox chooses (file names and contents, process commands and output, code-cell output,
 * terminal links) reaches the page as text and never runs; a page of another origin cannot
 * act with the console's key (no cookie carries it, no CORS grant lets it read an answer); a
 * sandbox's preview, served on the console's own origin, cannot widen a service worker over
 * the console; and the key lives in one tab's session storage only.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { launchChromium, waitUntil } from '@mitos/console/browser';
import { bearerApi } from '@mitos/testkit';
import type { BrowserContext, Page } from 'playwright-core';
import { Recorder } from './figures.js';
import { type LiveServer, liveServer, stopAndCheck } from './live.js';

const rec = new Recorder('console-browser', 'Web console in a browser: hostile sandboxes and pages', 8);
const KEY = `console-browser-key-${randomBytes(12).toString('hex')}`;
const HOSTILE_NAME = `<img src=x onerror="top.__pwned='name'">.txt`;
const HOSTILE_TEXT = `<script>top.__pwned='content'</script><img src=x onerror="top.__pwned='content-img'">`;

/** Runs before any page script: records every CSP refusal, which any injected markup would cause. */
const WATCH_VIOLATIONS = `window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));`;

describe('the web console against hostile sandboxes and pages', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let browser: BrowserContext;
  let page: Page;
  let sandbox = '';
  let attacker: Server;
  let attackerUrl = '';
  const requested: string[] = [];

  const api = bearerApi(() => live.url, KEY);
  /** Nothing a sandbox sent ran in the console: no flag set, no CSP refusal of a script. */
  const assertNothingRan = async (where: string) => {
    assert.equal(await page.evaluate('window.__pwned'), undefined, `${where}: sandbox markup ran`);
    const violations = (await page.evaluate('window.__violations')) as string[];
    assert.deepEqual(
      violations.filter((v) => v.startsWith('script')),
      [],
      `${where}: markup reached the page`,
    );
  };

  before(async () => {
    live = await liveServer({ apiKeys: [KEY] });
    await live.engine.ensureTemplate({ id: 'python' });
    sandbox = (await api<{ id: string }>('POST', '/v1/fork', { template: 'python' })).id;
    await api('POST', '/v1/files/write', { sandbox, path: `/workspace/${HOSTILE_NAME}`, content: HOSTILE_TEXT });
    browser = await launchChromium(live.env.stateDir, 'hostile-profile');
    page = browser.pages()[0] ?? (await browser.newPage());
    await browser.addInitScript(WATCH_VIOLATIONS);
    browser.on('request', (r) => requested.push(r.url()));
    attacker = createServer((req, res) => {
      res.setHeader('Content-Type', 'text/html');
      res.end(req.url === '/post' ? csrfPage(live.url) : readPage(live.url));
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    const address = attacker.address();
    attackerUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => attacker?.close(resolve));
    if (live) await stopAndCheck(live, rec, [KEY]);
  });

  test('sign in: the key lives in this tab only, never in a URL, cookie, local storage or the DOM', async () => {
    await page.goto(`${live.url}/console/`);
    await page.getByLabel('API key').fill(KEY);
    await page.keyboard.press('Enter');
    await page.locator('.live-live').waitFor();
    assert.equal(await page.evaluate("sessionStorage.getItem('mitos.apiKey')"), KEY);
    assert.equal(
      await page.evaluate('JSON.stringify(localStorage).includes(sessionStorage.getItem("mitos.apiKey"))'),
      false,
    );
    assert.equal(await page.evaluate('document.cookie'), '');
    assert.equal(((await page.evaluate('document.documentElement.outerHTML')) as string).includes(KEY), false);
    // Another tab of the same browser starts signed out: session storage is per tab.
    const other = await browser.newPage();
    await other.goto(`${live.url}/console/`);
    await other.getByLabel('API key').waitFor();
    assert.equal(await other.evaluate("sessionStorage.getItem('mitos.apiKey')"), null);
    await other.close();
    rec.count('attacks', 5);
    rec.check('the key after sign-in', 'session storage of one tab; not in cookies, local storage, the DOM or a URL');
  });

  test('file names and contents the sandbox chose are shown as text', async () => {
    await page.goto(`${live.url}/console/#/sandboxes/${sandbox}/files`);
    const entry = page.getByRole('button', { name: HOSTILE_NAME, exact: true });
    await entry.waitFor();
    await entry.click();
    await page.locator('.viewer pre', { hasText: HOSTILE_TEXT }).waitFor();
    assert.equal(await page.locator('img[src="x"]').count(), 0);
    await assertNothingRan('files');
    rec.count('attacks', 2);
    rec.check('markup as a file name and as file contents', 'rendered as text, nothing ran');
  });

  test('a process command and its output the sandbox chose are shown as text', async () => {
    const marker = '<img src=y onerror=top.__pwned=1>';
    // The marker is in the process's own argv, which the list shows, and in its output.
    await api('POST', '/v1/processes', {
      sandbox,
      command: `echo '${marker}'; exec python3 -c 'import time; time.sleep(600)' '${marker}'`,
    });
    await page.getByRole('tab', { name: 'Processes' }).click();
    const row = page.locator('tbody tr', { hasText: 'time.sleep(600)' }).first();
    await row.waitFor();
    assert.match((await row.locator('code').textContent()) ?? '', /<img src=y onerror=/);
    await row.getByRole('button', { name: 'Output' }).click();
    await page.locator('.process-output', { hasText: marker }).waitFor();
    assert.equal(await page.locator('img[src="y"]').count(), 0);
    await assertNothingRan('processes');
    rec.count('attacks', 2);
    rec.check('markup as a process command and output', 'rendered as text, nothing ran');
  });

  test('code-cell output: stdout is text, HTML runs in a frame with no scripts and no origin', async () => {
    await page.getByRole('tab', { name: 'Run code' }).click();
    const cell = [
      `print(${JSON.stringify(HOSTILE_TEXT)})`,
      'class Page:',
      '    def _repr_html_(self):',
      `        return "<p id=inside>framed</p><script>parent.__pwned='html'; document.getElementById('inside').textContent='ran'</script>"`,
      'Page()',
    ].join('\n');
    await page.getByRole('textbox', { name: 'Code' }).fill(cell);
    await page.getByRole('button', { name: /^Run/ }).click();
    await page.locator('.out-stdout', { hasText: HOSTILE_TEXT }).waitFor({ timeout: 120_000 });
    const frame = page.locator('iframe.out-html');
    await frame.waitFor({ timeout: 60_000 });
    assert.equal(await frame.getAttribute('sandbox'), '');
    // The frame rendered its markup, and its script did not run (it would have rewritten it).
    await page.frameLocator('iframe.out-html').locator('#inside', { hasText: 'framed' }).waitFor();
    await assertNothingRan('run code');
    rec.count('attacks', 2);
    rec.check('markup and a script in code-cell output', 'stdout as text; HTML in a sandboxed frame, no script ran');
  });

  test("a template build's log lines, which its steps choose, are shown as text", async () => {
    const marker = '<img src=z onerror=top.__pwned=1>';
    await api('POST', '/v1/templates', {
      id: 'hostile-log',
      spec: { image: 'python', buildSteps: [{ type: 'run', run: `echo '${marker}'` }] },
    });
    // The build's NDJSON stream ends with the build: read it to the end, then open the log.
    const build = await fetch(`${live.url}/v1/templates/hostile-log/build`, {
      headers: { Authorization: `Bearer ${KEY}` },
    });
    assert.match(await build.text(), /"type":"done"/);
    await page.goto(`${live.url}/console/#/templates`);
    await page.getByRole('button', { name: 'Build log of hostile-log', exact: true }).click();
    await page.getByRole('log', { name: 'Build output' }).filter({ hasText: marker }).waitFor({ timeout: 120_000 });
    assert.equal(await page.locator('img[src="z"]').count(), 0);
    await assertNothingRan('build log');
    await page.goto(`${live.url}/console/#/sandboxes/${sandbox}/terminal`);
    rec.count('attacks', 1);
    rec.check('markup in a template build step output', 'rendered as text in the build log, nothing ran');
  });

  test('a javascript: link printed in the terminal does nothing when clicked', async () => {
    await page.getByRole('tab', { name: 'Terminal' }).click();
    await page.getByText('Connected', { exact: true }).waitFor();
    await page.locator('.term-host').click();
    await page.keyboard.type(`printf '\\033]8;;javascript:top.__pwned=1\\033\\\\CLICK-ME-LINK\\033]8;;\\033\\\\\\n'\n`);
    const rows = "[...document.querySelectorAll('.xterm-rows > div')].map((r) => r.textContent.trim())";
    await waitUntil(page, `${rows}.includes('CLICK-ME-LINK')`);
    const index = (await page.evaluate(`${rows}.lastIndexOf('CLICK-ME-LINK')`)) as number;
    const pagesBefore = browser.pages().length;
    const box = await page.locator('.xterm-rows > div').nth(index).boundingBox();
    assert.ok(box, 'the row is on screen');
    // Hover first (xterm finds links on mouse move), then click, then ctrl-click.
    await page.mouse.move(box.x + 20, box.y + box.height / 2);
    await page.mouse.click(box.x + 20, box.y + box.height / 2);
    await page.keyboard.down('Control');
    await page.mouse.click(box.x + 20, box.y + box.height / 2);
    await page.keyboard.up('Control');
    await assertNothingRan('terminal link');
    assert.equal(browser.pages().length, pagesBefore, 'a terminal link opened a window');
    rec.count('attacks', 2);
    rec.check('an OSC 8 javascript: link in terminal output, clicked', 'nothing ran, no window opened');
  });

  test('a page of another origin cannot act or read with the signed-in console', async () => {
    const before = (await api<{ id: string }[]>('GET', '/v1/sandboxes')).map((s) => s.id).sort();
    const hostile = await browser.newPage();
    // First it tries to read the API across origins, then posts a form there (a classic CSRF).
    await hostile.goto(`${attackerUrl}read`);
    await hostile.locator('#read-outcome:not(:empty)').waitFor();
    assert.equal(await hostile.locator('#read-outcome').textContent(), 'refused');
    await hostile.goto(`${attackerUrl}post`);
    await hostile.waitForURL((url) => url.href.startsWith(live.url), { timeout: 30_000 });
    const answer = (await hostile.locator('body').textContent()) ?? '';
    assert.match(answer, /unauthorized/);
    await hostile.close();
    const afterward = (await api<{ id: string }[]>('GET', '/v1/sandboxes')).map((s) => s.id).sort();
    assert.deepEqual(afterward, before);
    // No CORS grant for a foreign origin, so no foreign page could read an answer even with a key.
    const preflight = await fetch(`${live.url}/v1/sandboxes`, {
      method: 'OPTIONS',
      headers: {
        Origin: attackerUrl.replace(/\/$/, ''),
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization, content-type',
      },
    });
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
    assert.equal(preflight.headers.get('access-control-allow-credentials'), null);
    rec.count('attacks', 3);
    rec.check(
      'cross-origin form post, cross-origin read, CORS preflight',
      '401 without the key; nothing made; no grant',
    );
  });

  test("a sandbox's preview on the console's origin cannot take a service worker over the console", async () => {
    await api('POST', '/v1/files/write', { sandbox, path: '/workspace/site/serve.py', content: GUEST_SERVER });
    await api('POST', '/v1/processes', { sandbox, command: 'python3 -u /workspace/site/serve.py' });
    const { url } = await api<{ url: string }>('POST', '/v1/preview', { sandbox, port: 8123 });
    // The guest answers once it listens: poll the preview until it does (bounded).
    const deadline = Date.now() + 60_000;
    let sw: Response | undefined;
    while (Date.now() < deadline) {
      sw = await fetch(`${url.replace(/\/$/, '')}/sw.js`);
      if (sw.status === 200) break;
      await sw.arrayBuffer();
    }
    assert.equal(sw?.status, 200, 'the guest server answered through the preview');
    assert.equal(sw?.headers.get('service-worker-allowed'), null);
    const preview = await browser.newPage();
    await preview.goto(url);
    await preview.locator('#outcome:not(:empty)').waitFor();
    assert.match((await preview.locator('#outcome').textContent()) ?? '', /^refused/);
    await preview.close();
    rec.count('attacks', 2);
    rec.check('a preview registering a service worker with scope /', 'Service-Worker-Allowed dropped; refused');
  });

  test('sign out forgets the key, and no URL the browser requested held it', async () => {
    await page.goto(`${live.url}/console/#/sandboxes`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    assert.equal(await page.evaluate("sessionStorage.getItem('mitos.apiKey')"), null);
    assert.ok(requested.length > 5);
    for (const url of requested) assert.equal(url.includes(KEY), false, url);
    rec.count('attacks', 1);
    rec.check('sign out', 'the key is gone from the tab; no requested URL held it');
  });
});

/** A foreign page that tries to read the API (the browser must refuse it the answer). */
function readPage(target: string): string {
  return `<!doctype html><title>elsewhere</title><p id="read-outcome"></p><script>
fetch(${JSON.stringify(`${target}/v1/sandboxes`)}, { credentials: 'include' })
  .then((r) => r.text().then((t) => { document.getElementById('read-outcome').textContent = 'read ' + t.length; }))
  .catch(() => { document.getElementById('read-outcome').textContent = 'refused'; });
</script>`;
}

/** A foreign page that posts a create across origins as soon as it loads (CSRF). */
function csrfPage(target: string): string {
  return `<!doctype html><title>elsewhere</title>
<form id="f" method="post" action="${target}/v1/fork" enctype="text/plain">
<input name='{"template":"python","id":"csrf-made","x":"' value='"}'></form>
<script>document.getElementById('f').submit();</script>`;
}

/** Run in the sandbox: a page that asks for a service worker over the whole origin. */
const GUEST_SERVER = `
import http.server
PAGE = b"""<!doctype html><p id=outcome></p><script>
navigator.serviceWorker.register('sw.js', { scope: '/' })
  .then(() => { document.getElementById('outcome').textContent = 'registered'; })
  .catch((e) => { document.getElementById('outcome').textContent = 'refused: ' + e.name; });
</script>"""
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body, kind = (b"self.addEventListener('fetch', () => {});", 'text/javascript') if self.path.endswith('sw.js') else (PAGE, 'text/html')
        self.send_response(200)
        self.send_header('Content-Type', kind)
        self.send_header('Service-Worker-Allowed', '/')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(('127.0.0.1', 8123), Handler).serve_forever()
`;
