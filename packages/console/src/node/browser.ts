/**
 * For tests and benchmarks of the console (`@mitos/console/browser`): Debian's Chromium, headless, driven by playwright-core, with a fresh profile under the
 * test's own state directory. The flags keep it off the network: this host's closed network
 * refuses Chromium's background connections, and the tests talk to loopback only.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchChromium(stateDir: string, profileName = 'chromium-profile'): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run \`node scripts/setup.mjs\` as root (it installs Debian's chromium)`);
  }
  const profile = join(stateDir, profileName);
  mkdirSync(profile, { recursive: true });
  // launchPersistentContext is how playwright takes a --user-data-dir of our choosing.
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 800 },
  });
}

/**
 * Resolves with the page's own clock (ms since navigation) once `expression` holds, checked
 * every animation frame. page.waitForFunction would evaluate a string inside the page, which
 * the console's Content-Security-Policy (no unsafe-eval) rightly refuses.
 */
export async function waitUntil(page: Page, expression: string, timeoutMs = 30_000): Promise<number> {
  return (await page.evaluate(`new Promise((resolve, reject) => {
    const limit = performance.now() + ${timeoutMs};
    const tick = () => {
      if (${expression}) resolve(performance.now());
      else if (performance.now() > limit) reject(new Error(${JSON.stringify(`timed out waiting for ${expression}`)}));
      else requestAnimationFrame(tick);
    };
    tick();
  })`)) as number;
}
