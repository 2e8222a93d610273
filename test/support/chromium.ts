import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Browser, BrowserContext, Locator, Page, chromium } from 'playwright-core';

/** Debian's `chromium` package; CHROMIUM_PATH points elsewhere (another system, another build). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Where the browser tests leave a screenshot of each page they saw: SCREENSHOT_DIR,
 * else test-artifacts/screenshots/ (gitignored; CI keeps it).
 */
export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR
  ? resolve(process.env.SCREENSHOT_DIR)
  : join(__dirname, '..', '..', 'test-artifacts', 'screenshots');

/**
 * Headless Chromium on a fresh temporary profile (Playwright makes one per launch),
 * with everything that phones home turned off: the test machines have no internet,
 * and a Chromium waiting for its update or sync servers stalls. A missing browser
 * fails the suite; it never skips it.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: the browser tests need it. ` +
        'Install it (apt-get install -y chromium) or set CHROMIUM_PATH.',
    );
  }
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** The whole page, or only one part of it (a long page such as the API docs). */
export async function screenshot(target: Page | Locator, name: string): Promise<void> {
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  if ('goto' in target) await target.screenshot({ path, fullPage: true });
  else await target.screenshot({ path });
}

/**
 * What went wrong in a context's pages under `origin + pathPrefix`: script errors,
 * CSP refusals, and any request for a resource from another origin (the pages must
 * load nothing from outside paygate).
 */
export function watchProblems(
  context: BrowserContext,
  origin: string,
  pathPrefix: string,
): string[] {
  const problems: string[] = [];
  const watched = (url: string) => url.startsWith(origin + pathPrefix);
  const watch = (page: Page) => {
    page.on('pageerror', (error) => {
      if (watched(page.url())) problems.push(`${page.url()}: script error ${error.message}`);
    });
    page.on('console', (message) => {
      if (
        watched(page.url()) &&
        message.type() === 'error' &&
        /Content Security Policy|Refused to/i.test(message.text())
      )
        problems.push(`${page.url()}: ${message.text()}`);
    });
  };
  context.on('page', watch);
  context.on('request', (request) => {
    let from: string;
    try {
      from = request.frame().url();
    } catch {
      return; // a service worker's request, or one whose frame is gone
    }
    if (
      watched(from) &&
      request.resourceType() !== 'document' &&
      !request.url().startsWith(`${origin}/`)
    )
      problems.push(`${from} loaded ${request.url()}`);
  });
  return problems;
}
