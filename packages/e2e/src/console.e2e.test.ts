/**
 * The web console in a real browser against the real server and engine: sign in, create a
 * sandbox, use its terminal, files and code cell, fork it, and terminate from the list.
 * Screenshots of each view go to <state dir>/screenshots (and to MITOS_SCREENSHOT_DIR when
 * set, which is how docs/console/*.png are refreshed).
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchChromium, waitUntil } from '@mitos/console/browser';
import { bearerApi } from '@mitos/testkit';
import type { BrowserContext, Page } from 'playwright-core';
import { type LiveServer, liveServer } from './fixtures.js';

const KEY = 'console-e2e-key-6f1d2a';

describe('web console in Chromium', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let browser: BrowserContext;
  let page: Page;
  let shots: string;
  const requestedUrls: string[] = [];
  let parentId = '';

  const api = bearerApi(() => live.url, KEY);
  const shot = async (name: string) => {
    await page.screenshot({ path: join(shots, `${name}.png`) });
  };
  const liveIds = async () => ((await api('GET', '/v1/sandboxes')) as { id: string }[]).map((s) => s.id).sort();

  before(async () => {
    // A warm pool of one, as `mitos serve` keeps by default, so the server view has one to show.
    live = await liveServer({ apiKeys: [KEY], engineOptions: { warmPoolSize: 1 } });
    shots = join(live.env.stateDir, 'screenshots');
    mkdirSync(shots, { recursive: true });
    await api('POST', '/v1/templates', { id: 'python' });
    browser = await launchChromium(live.env.stateDir);
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('request', (r) => requestedUrls.push(r.url()));
  });
  after(async () => {
    const keep = process.env.MITOS_SCREENSHOT_DIR;
    if (keep && shots) {
      mkdirSync(keep, { recursive: true });
      for (const name of readdirSync(shots)) copyFileSync(join(shots, name), join(keep, name));
    }
    await browser?.close();
    for (const id of live ? await liveIds().catch(() => []) : []) await live.engine.terminate(id);
    await live?.stop();
  });

  test('a browser opening / lands on the sign-in form; a wrong key is refused with the envelope', async () => {
    await page.goto(`${live.url}/`);
    assert.equal(new URL(page.url()).pathname, '/console/');
    await page.getByLabel('API key').fill('not-the-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const error = page.locator('.error[data-code="unauthorized"]');
    await error.waitFor();
    assert.match((await error.textContent()) ?? '', /What to do:.*API key/s);
    await shot('login-refused');
    assert.equal(await page.getByRole('heading', { name: 'Sandboxes' }).count(), 0);
  });

  test('the right key, typed and submitted from the keyboard, opens the live list', async () => {
    const input = page.getByLabel('API key');
    await input.fill('');
    await input.focus();
    await page.keyboard.type(KEY);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Sandboxes' }).waitFor();
    await page.locator('.live-live').waitFor();
    assert.equal(await page.evaluate("sessionStorage.getItem('mitos.apiKey')"), KEY);
    assert.equal(await page.evaluate("JSON.stringify(localStorage).includes('console-e2e')"), false);
  });

  test('create a sandbox; `echo hi` in its terminal prints hi', async () => {
    await page.getByRole('button', { name: 'Create sandbox' }).click();
    await page.waitForURL(/#\/sandboxes\/[^/]+$/);
    parentId = decodeURIComponent(page.url().split('/').pop() ?? '');
    assert.deepEqual(await liveIds(), [parentId]);
    await page.getByText('Connected', { exact: true }).waitFor();
    await page.locator('.term-host').click();
    await page.keyboard.type('echo hi\n');
    // The screen as xterm.js renders it: one div per row.
    await waitUntil(
      page,
      "[...document.querySelectorAll('.xterm-rows > div')].some((row) => row.textContent.trim() === 'hi')",
    );
    await shot('sandbox-terminal');
    // Resizing the window resizes the pty: the shell sees the new size.
    let asked = 0;
    const sttySize = async () => {
      const tag = `size${++asked}`;
      await page.keyboard.type(`echo ${tag}=$(stty size)\n`);
      const row = `[...document.querySelectorAll('.xterm-rows > div')].map((r) => r.textContent.trim()).find((t) => t.startsWith('${tag}='))`;
      await waitUntil(page, `${row} !== undefined`);
      return String(await page.evaluate(row)).slice(tag.length + 1);
    };
    const before = await sttySize();
    await page.setViewportSize({ width: 900, height: 600 });
    let after = await sttySize();
    for (let i = 0; i < 20 && after === before; i++) after = await sttySize();
    assert.match(before, /^\d+ \d+$/);
    assert.match(after, /^\d+ \d+$/);
    assert.notEqual(after, before, `the shell still sees ${before}`);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('copy a selection from the terminal and paste a command into it', async () => {
    await browser.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: live.url });
    const rowText = "[...document.querySelectorAll('.xterm-rows > div')].map((r) => r.textContent.trim())";
    await page.locator('.term-host').click();
    await page.keyboard.type('echo copy-$((40+2))-source\n');
    await waitUntil(page, `${rowText}.includes('copy-42-source')`);
    // Double-clicking a word selects it, as a user would; the button copies the selection.
    const index = (await page.evaluate(`${rowText}.lastIndexOf('copy-42-source')`)) as number;
    const box = await page.locator('.xterm-rows > div').nth(index).boundingBox();
    assert.ok(box, 'the row is on screen');
    await page.mouse.dblclick(box.x + 20, box.y + box.height / 2);
    await page.getByRole('button', { name: 'Copy selection' }).click();
    // The button's write to the clipboard is asynchronous: read until it lands (bounded).
    const deadline = Date.now() + 15_000;
    let copied = '';
    while (copied !== 'copy-42-source' && Date.now() < deadline) {
      copied = (await page.evaluate('navigator.clipboard.readText()')) as string;
    }
    assert.equal(copied, 'copy-42-source');
    // Paste: the clipboard's command lands on the shell's line, and Enter runs it.
    await page.evaluate("navigator.clipboard.writeText('echo pasted-$((6*7))')");
    await page.getByRole('button', { name: 'Paste' }).click();
    await waitUntil(page, `${rowText}.some((t) => t.endsWith('echo pasted-$((6*7))'))`);
    await page.locator('.term-host').click();
    await page.keyboard.press('Enter');
    await waitUntil(page, `${rowText}.includes('pasted-42')`);
  });

  test('upload a file and see it listed and opened', async () => {
    // From the keyboard: the selected tab takes focus, the arrow moves to the next one.
    await page.getByRole('tab', { name: 'Terminal' }).focus();
    await page.keyboard.press('ArrowRight');
    await page.waitForURL(/\/files$/);
    // The hash changes before the view re-renders: wait for the tab the view marks selected.
    await page.getByRole('tab', { name: 'Files', selected: true }).waitFor();
    await page.getByLabel('Upload files').setInputFiles({
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('uploaded from the console\n'),
    });
    const entry = page.getByRole('button', { name: 'notes.txt' });
    await entry.waitFor();
    await entry.click();
    await page.locator('.viewer pre', { hasText: 'uploaded from the console' }).waitFor();
    const read = (await api('POST', '/v1/files/read', { sandbox: parentId, path: '/workspace/notes.txt' })) as {
      content: string;
    };
    assert.equal(read.content, 'uploaded from the console\n');
    await shot('sandbox-files');
  });

  test('edit a small text file in place', async () => {
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('File contents').fill('edited in the browser\n');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved /workspace/notes.txt').waitFor();
    const read = (await api('POST', '/v1/files/read', { sandbox: parentId, path: '/workspace/notes.txt' })) as {
      content: string;
    };
    assert.equal(read.content, 'edited in the browser\n');
  });

  test('download the opened file: the bytes the sandbox holds', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'notes.txt');
    const saved = join(live.env.stateDir, 'downloaded-notes.txt');
    await download.saveAs(saved);
    assert.equal(readFileSync(saved, 'utf8'), 'edited in the browser\n');
  });

  test('run code that plots and see the image', async () => {
    await page.getByRole('tab', { name: 'Run code' }).click();
    await page.getByRole('button', { name: /^Run/ }).click();
    const image = page.locator('img.out-image');
    await image.waitFor({ timeout: 120_000 });
    const width = await image.evaluate((img: { naturalWidth: number }) => img.naturalWidth);
    assert.ok(width > 100, `plot is ${width}px wide`);
    await shot('sandbox-code');
  });

  test('a table renders as HTML, in a frame that runs no scripts', async () => {
    await page
      .getByRole('textbox', { name: 'Code' })
      .fill('import pandas as pd\npd.DataFrame({"fruit": ["apple", "pear"], "n": [3, 5]})');
    await page.getByRole('button', { name: /^Run/ }).click();
    const frame = page.locator('iframe.out-html');
    await frame.waitFor({ timeout: 60_000 });
    assert.equal(await frame.getAttribute('sandbox'), '');
    await page.frameLocator('iframe.out-html').locator('td', { hasText: 'pear' }).waitFor();
  });

  test('a background process: started, its output streamed, killed', async () => {
    await page.getByRole('tab', { name: 'Processes' }).click();
    await page.getByLabel('Background command').fill('echo started-in-console; exec sleep 600');
    await page.getByRole('button', { name: 'Start' }).click();
    await page.locator('.process-output', { hasText: 'started-in-console' }).waitFor();
    const row = page.locator('tbody tr', { hasText: 'sleep 600' }).first();
    await row.waitFor();
    await row.getByRole('button', { name: 'Kill' }).click();
    await page.locator('.process-output', { hasText: 'exited with code' }).waitFor();
    await shot('sandbox-processes');
  });

  test('a preview URL for a port opens what the sandbox serves there', async () => {
    await api('POST', '/v1/files/write', {
      sandbox: parentId,
      path: '/workspace/index.html',
      content: '<h1>served from the sandbox</h1>',
    });
    await page.getByLabel('Background command').fill('python3 -u -m http.server 8000 --directory /workspace');
    await page.getByRole('button', { name: 'Start' }).click();
    await page.locator('.process-output', { hasText: 'Serving HTTP' }).waitFor({ timeout: 60_000 });
    await page.getByLabel('Port').fill('8000');
    await page.getByRole('button', { name: 'Preview URL' }).click();
    const link = page.locator('a.preview-url');
    await link.waitFor();
    assert.equal((await link.getAttribute('href'))?.includes(KEY), false);
    const [preview] = await Promise.all([browser.waitForEvent('page'), link.click()]);
    await preview.getByRole('heading', { name: 'served from the sandbox' }).waitFor();
    // The preview shares the console's origin: opened without an opener, its tab has no key.
    assert.equal(await preview.evaluate("sessionStorage.getItem('mitos.apiKey')"), null);
    await preview.close();
    const row = page.locator('tbody tr', { hasText: 'http.server' }).first();
    await row.getByRole('button', { name: 'Kill' }).click();
    await page.locator('.process-output', { hasText: 'exited with code' }).waitFor();
  });

  test('pause, resume and a deadline from the page, each reflected by the pushed state', async () => {
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.locator('.facts .state-paused').waitFor();
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.locator('.facts .state-running').waitFor();
    await page.getByRole('button', { name: 'Set deadline' }).click();
    await page.locator('.facts dd', { hasText: /^in (59m|1h)/ }).waitFor();
    const detail = (await api('GET', `/v1/sandboxes/${parentId}`)) as { deadline_unix: number };
    assert.ok(detail.deadline_unix > Date.now() / 1000 + 3000, `deadline ${detail.deadline_unix}`);
  });

  test('fork into 3 and see 3 children in the tree', async () => {
    await page.getByRole('tab', { name: 'Terminal' }).click();
    await page.getByLabel('Fork into').fill('3');
    await page.getByRole('button', { name: 'Fork', exact: true }).click();
    await page.waitForURL(/#\/tree\//);
    const children = page.locator(`li:has(> [data-node="${parentId}"]) > ul > li`);
    await waitUntil(page, `document.querySelectorAll('li:has(> [data-node="${parentId}"]) > ul > li').length === 3`);
    assert.equal(await children.count(), 3);
    // What each fork carried is kept by the server, so every child shows it, from any tab.
    await waitUntil(
      page,
      `[...document.querySelectorAll('li:has(> [data-node="${parentId}"]) > ul > li')].every((li) => /gen 1 · running/.test(li.textContent) && /carried: files/.test(li.textContent))`,
    );
    assert.equal((await liveIds()).length, 4);
    const child = (await liveIds()).find((id) => id !== parentId) as string;
    const record = (await api('GET', `/v1/sandboxes/${child}`)) as { carried?: { filesystem: boolean } };
    assert.equal(record.carried?.filesystem, true);
    await shot('fork-tree');
  });

  test('terminate from the list: one row, then the rest in bulk', async () => {
    await page.getByRole('link', { name: 'Sandboxes' }).click();
    const rows = page.locator('tbody tr[data-sandbox]');
    await waitUntil(page, "document.querySelectorAll('tbody tr[data-sandbox]').length === 4");
    // Usage (CPU, memory, disk) is pushed for the new children too.
    await waitUntil(
      page,
      "[...document.querySelectorAll('tbody tr[data-sandbox]')].every((r) => !r.textContent.includes('– / –'))",
    );
    await shot('sandboxes');
    const child = (await liveIds()).find((id) => id !== parentId) as string;
    await page
      .locator(`tr[data-sandbox="${child}"]`)
      .getByRole('button', { name: /Terminate/ })
      .click();
    await waitUntil(page, "document.querySelectorAll('tbody tr[data-sandbox]').length === 3");
    assert.equal((await liveIds()).includes(child), false);
    await page.getByLabel('Select all').check();
    await page.getByRole('button', { name: 'Terminate selected (3)' }).click();
    await page.getByText('No sandboxes yet.').waitFor();
    assert.equal(await rows.count(), 0);
    assert.deepEqual(await liveIds(), []);
  });

  test('templates: build one from a base and steps, read its log, delete it', async () => {
    await page.getByRole('link', { name: 'Templates' }).click();
    await page.locator('td code', { hasText: /^python$/ }).waitFor();
    await page.getByLabel('Template id').fill('console-built');
    await page.getByLabel(/^Based on/).fill('python');
    // A step's output is the sandbox's to choose: it must reach the page as text, not markup.
    await page.getByLabel(/^Build steps/).fill('echo built-by-a-console-step\necho "<b id=injected>bold</b>"');
    await page.getByRole('button', { name: 'Build', exact: true }).click();
    const log = page.getByLabel('Build output');
    await log.filter({ hasText: 'built-by-a-console-step' }).waitFor({ timeout: 180_000 });
    await page.locator('.build-log .state', { hasText: 'ready' }).waitFor({ timeout: 180_000 });
    assert.match((await log.textContent()) ?? '', /<b id=injected>bold<\/b>/);
    assert.equal(await page.locator('#injected').count(), 0);
    await page.locator('td code', { hasText: /^console-built$/ }).waitFor();
    await shot('templates');
    await page.getByRole('button', { name: 'Delete console-built…', exact: true }).click();
    await page.getByRole('button', { name: 'Delete console-built', exact: true }).click();
    await page.locator('td code', { hasText: /^console-built$/ }).waitFor({ state: 'detached' });
    // A step that fails: the log shows the failure as our envelope, and no template is left.
    await page.getByLabel('Template id').fill('console-broken');
    await page.getByLabel(/^Based on/).fill('python');
    await page.getByLabel(/^Build steps/).fill('echo about-to-fail\nexit 3');
    await page.getByRole('button', { name: 'Build', exact: true }).click();
    await page.locator('.build-log .state', { hasText: 'failed' }).waitFor({ timeout: 180_000 });
    const failure = page.locator('.build-log .error');
    await failure.waitFor();
    assert.match((await failure.textContent()) ?? '', /What to do:/);
    assert.match((await page.getByLabel('Build output').textContent()) ?? '', /about-to-fail/);
    const templates = (await api('GET', '/v1/templates')) as { id: string }[];
    assert.deepEqual(
      templates.map((t) => t.id),
      ['python'],
    );
  });

  test('server view: health, engine, the warm pool and metering totals', async () => {
    await page.getByRole('link', { name: 'Server' }).click();
    await page.getByText('Metering totals').waitFor();
    assert.match((await page.locator('.facts').first().textContent()) ?? '', /linux/);
    // The pool refills in the background; the view polls health, so wait for it to show full.
    const pooled = page.getByRole('table', { name: 'Warm pool by template' }).locator('tr', { hasText: 'python' });
    await pooled.filter({ hasText: '1 / 1' }).waitFor({ timeout: 60_000 });
    const health = (await api('GET', '/v1/health')) as { warm_pool?: { size: number; enabled: boolean } };
    assert.equal(health.warm_pool?.size, 1);
    assert.equal(health.warm_pool?.enabled, true);
    await shot('server');
  });

  test('narrow and dark: the page fits a phone width', async () => {
    await page.setViewportSize({ width: 400, height: 800 });
    await page.getByRole('link', { name: 'Sandboxes' }).click();
    await page.getByRole('button', { name: 'Switch colour theme' }).click();
    const theme = await page.evaluate('document.documentElement.dataset.theme');
    assert.ok(theme === 'dark' || theme === 'light');
    const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
    assert.ok(overflow <= 0, `page is ${overflow}px wider than the viewport`);
    await shot(`sandboxes-narrow-${theme}`);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('a lost connection shows a banner, and the list reconnects when the server is back', async () => {
    await live.pause();
    const banner = page.getByRole('alert').filter({ hasText: 'Connection to the server lost' });
    await banner.waitFor();
    await shot('connection-lost');
    await live.restart();
    await banner.waitFor({ state: 'detached', timeout: 30_000 });
    await page.locator('.live-live').waitFor();
  });

  test('the key never appeared in a URL the page requested', () => {
    assert.ok(requestedUrls.length > 5);
    for (const url of requestedUrls) assert.equal(url.includes(KEY), false, url);
  });
});
