/**
 * The web console in a real browser against the real server and engine: sign in, create a
 * sandbox, use its terminal, files and code cell, fork it, and terminate from the list.
 * Screenshots of each view go to <state dir>/screenshots (and to MITOS_SCREENSHOT_DIR when
 * set, which is how docs/console/*.png are refreshed).
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchChromium, waitUntil } from '@mitos/console/browser';
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

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${live.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${await res.clone().text()}`);
    return res.json() as Promise<unknown>;
  };
  const shot = async (name: string) => {
    await page.screenshot({ path: join(shots, `${name}.png`) });
  };
  const liveIds = async () => ((await api('GET', '/v1/sandboxes')) as { id: string }[]).map((s) => s.id).sort();

  before(async () => {
    live = await liveServer({ apiKeys: [KEY] });
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

  test('upload a file and see it listed and opened', async () => {
    // From the keyboard: the selected tab takes focus, the arrow moves to the next one.
    await page.getByRole('tab', { name: 'Terminal' }).focus();
    await page.keyboard.press('ArrowRight');
    await page.waitForURL(/\/files$/);
    assert.equal(await page.getByRole('tab', { name: 'Files' }).getAttribute('aria-selected'), 'true');
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
    assert.match((await children.first().textContent()) ?? '', /gen 1 · running/);
    assert.match((await children.first().textContent()) ?? '', /carried: files/);
    assert.equal((await liveIds()).length, 4);
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

  test('templates and server views render', async () => {
    await page.getByRole('link', { name: 'Templates' }).click();
    await page.locator('td code', { hasText: /^python$/ }).waitFor();
    await shot('templates');
    await page.getByRole('link', { name: 'Server' }).click();
    await page.getByText('Metering totals').waitFor();
    assert.match((await page.locator('.facts').first().textContent()) ?? '', /linux/);
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
