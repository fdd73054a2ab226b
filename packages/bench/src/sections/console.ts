/**
 * The web console: what the first view downloads (JS and CSS, gzip as a server would send
 * them), and how long a cold browser takes on loopback from navigation to a usable first
 * view: the sign-in form, and the live sandbox list of a signed-in tab.
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { consoleAssetsDir } from '@mitos/console';
import { launchChromium, waitUntil } from '@mitos/console/browser';
import type { BenchEnv } from '../mitos/bench-env.js';
import { newSandbox } from '../mitos/client.js';
import type { Sizes } from '../options.js';
import type { Recorder } from '../results.js';
import { single, summarize } from '../stats.js';

export async function runConsole(rec: Recorder, env: BenchEnv, sizes: Sizes): Promise<void> {
  bundleSizes(rec);
  const sb = await newSandbox(env);
  try {
    await firstView(rec, env, sizes.consoleRuns);
  } finally {
    await sb.terminate().catch(() => {});
  }
}

/** The files index.html loads itself (scripts, preloads, styles); lazy chunks are not first view. */
function bundleSizes(rec: Recorder): void {
  const dir = consoleAssetsDir();
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  const files = [...html.matchAll(/(?:src|href)="\/console\/([^"]+\.(?:js|css))"/g)].map((m) => m[1] as string);
  const gz = (ext: string) =>
    files.filter((f) => f.endsWith(ext)).reduce((sum, f) => sum + gzipSync(readFileSync(join(dir, f))).length, 0) /
    1024;
  const reproduce = 'npm run build && npm run bench -- --only console';
  rec.add({
    id: 'console.js.gzip',
    section: 'console',
    subject: 'mitos',
    label: 'first-view JavaScript, gzip (terminal loads later, on a sandbox page)',
    unit: 'KiB',
    summary: single(gz('.js')),
    reproduce,
  });
  rec.add({
    id: 'console.css.gzip',
    section: 'console',
    subject: 'mitos',
    label: 'first-view CSS, gzip',
    unit: 'KiB',
    summary: single(gz('.css')),
    reproduce,
  });
}

async function firstView(rec: Recorder, env: BenchEnv, runs: number): Promise<void> {
  const signIn: number[] = [];
  const liveList: number[] = [];
  for (let i = 0; i < runs; i++) {
    signIn.push(await coldLoad(env, i, false));
    liveList.push(await coldLoad(env, i, true));
  }
  rec.add({
    id: 'console.signin',
    section: 'console',
    subject: 'mitos',
    label: 'first visit (empty cache): navigation to the sign-in form ready for input (loopback)',
    unit: 'ms',
    summary: summarize(signIn),
    reproduce: 'fresh Chromium profile, one same-origin page, then /console/ until the key field is focused',
  });
  rec.add({
    id: 'console.list',
    section: 'console',
    subject: 'mitos',
    label: 'first visit (empty cache), signed-in tab: navigation to the live sandbox list showing its row (loopback)',
    unit: 'ms',
    summary: summarize(liveList),
    reproduce:
      'fresh Chromium profile with the key in session storage; goto /console/; wait for the row from the event stream',
  });
}

/** One cold load in a fresh profile; the time is the page's own clock (0 = navigation start). */
async function coldLoad(env: BenchEnv, run: number, signedIn: boolean): Promise<number> {
  const browser = await launchChromium(env.stateDir, `console-profile-${run}-${signedIn ? 'in' : 'out'}`);
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    // A running browser (as a person's is) with an empty cache: one same-origin page first,
    // which is also where a signed-in tab's key is put into session storage.
    await page.goto(`${env.url}/v1/health`);
    if (signedIn) await page.evaluate(`sessionStorage.setItem('mitos.apiKey', ${JSON.stringify(env.apiKey)})`);
    await page.goto(`${env.url}/console/`, { waitUntil: 'commit' });
    return await waitUntil(
      page,
      signedIn
        ? "document.querySelector('tbody tr[data-sandbox]') !== null"
        : "document.activeElement !== null && document.activeElement.id === 'api-key'",
    );
  } finally {
    await browser.close();
  }
}
