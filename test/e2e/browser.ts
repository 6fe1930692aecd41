/**
 * Real-browser helpers for the end-to-end journeys: Chromium through playwright-core, the example app in
 * demo mode (app on http://localhost, emulator on http://127.0.0.1, so Kakao is another site), and the
 * screenshots the README shows.
 */
import { existsSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { KakaoLogEvent } from 'kakao-login-express';
import type { KakaoEmulator } from 'kakao-login-express/testing';
import { loadConfig } from '../../example-app/config';
import { startExampleApp, type RunningApp } from '../../example-app/server';

/** Flags that keep headless Chromium quiet, offline and usable as root in containers. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
];

/** Size of every page, and so of every screenshot. */
export const VIEWPORT = { width: 1280, height: 800 } as const;

/** Where `SCREENSHOTS=1` writes its PNGs. */
export const SCREENSHOT_DIR = path.resolve(__dirname, '../../docs/images');

/** Whether this run writes screenshots (`SCREENSHOTS=1`, see scripts/screenshots.sh). */
export const screenshotsEnabled = process.env.SCREENSHOTS === '1';

/**
 * The Chromium binary: `CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`, else a browser that
 * `npx playwright install chromium` put in playwright's cache.
 *
 * @throws Error naming the places looked at and how to provide a browser.
 */
export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  try {
    candidates.push(chromium.executablePath());
  } catch {
    // playwright-core knows no bundled browser for this platform; the explicit paths still apply.
  }
  const found = candidates.find((candidate) => candidate && existsSync(candidate));
  if (!found) {
    throw new Error(
      `No Chromium found for the e2e tests (looked at ${candidates.filter(Boolean).join(', ')}). ` +
        'Install it (Debian: apt-get install chromium) or set CHROMIUM_PATH to a Chromium or Chrome binary.',
    );
  }
  return found;
}

/** Launches headless Chromium; each test then opens its own context (fresh cookies). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS, timeout: 20_000 });
}

/** A fresh browser context (own cookie jar) with the standard viewport and short action timeouts. */
export async function newContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext({
    viewport: VIEWPORT,
    deviceScaleFactor: 1,
    locale: 'ko-KR',
    colorScheme: 'light',
    reducedMotion: 'reduce',
  });
  // Fail with a clear locator error long before jest's own test timeout.
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(10_000);
  return context;
}

/** The example app in demo mode plus what the journeys look at. */
export interface DemoApp {
  running: RunningApp;
  emulator: KakaoEmulator;
  /** `http://localhost:<port>`. */
  url: string;
  /** Every event the library logged. */
  events: KakaoLogEvent[];
  close(): Promise<void>;
}

async function listenExampleApp(
  env: Record<string, string>,
  events: KakaoLogEvent[],
  port: string,
): Promise<RunningApp> {
  return startExampleApp(loadConfig({ ...env, PORT: port, HOST: 'localhost' }), {
    logger: (event) => events.push(event),
    log: () => {},
  });
}

/**
 * Starts the example app exactly as `npm start` does without KAKAO_CLIENT_ID: demo mode, with the
 * emulator's consent page. When screenshots are on, it tries port 3000 first so the pictures show the
 * address a reader will see.
 *
 * @param env Extra environment for `loadConfig`, e.g. `{ KAKAO_OIDC: 'true' }`. Default none.
 */
export async function startDemoApp(env: Record<string, string> = {}): Promise<DemoApp> {
  const events: KakaoLogEvent[] = [];
  let running: RunningApp | undefined;
  if (screenshotsEnabled) {
    running = await listenExampleApp(env, events, '3000').catch(() => undefined);
  }
  running ??= await listenExampleApp(env, events, '0');
  const { emulator } = running;
  if (!emulator) {
    await running.close();
    throw new Error('The example app did not start in demo mode (is KAKAO_CLIENT_ID set?)');
  }
  return { running, emulator, url: running.url, events, close: () => running.close() };
}

/**
 * A tiny server on 127.0.0.1 (another site than localhost) serving one HTML page at `/`.
 */
export async function startOtherSite(html: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(html);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Saves a 1280x800 PNG of the page to docs/images/<name>.png when `SCREENSHOTS=1`, after fonts and
 * images have loaded; does nothing otherwise.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (!screenshotsEnabled) return;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.waitForLoadState('load');
  await page.evaluate('document.fonts.ready.then(() => undefined)');
  await page.screenshot({
    path: path.join(SCREENSHOT_DIR, `${name}.png`),
    animations: 'disabled',
    caret: 'hide',
  });
}

/** Collects console errors and uncaught page errors (CSP violations show up here). */
export function collectPageErrors(context: BrowserContext): string[] {
  const errors: string[] = [];
  context.on('page', (page) => watchPage(page, errors));
  for (const page of context.pages()) watchPage(page, errors);
  return errors;
}

function watchPage(page: Page, errors: string[]): void {
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`${message.location().url}: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`${page.url()}: ${error.message}`));
}
