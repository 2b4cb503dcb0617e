/**
 * Browser-test plumbing: build the app once per process, serve it with COOP/COEP on 127.0.0.1, and
 * drive Debian's Chromium (off the network) with playwright-core.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { buildApp } from '../../tools/app_build.js';
import { serveApp, type AppServer } from '../../tools/app_server.js';
import { REPO_ROOT } from './golden.js';

export const CHROMIUM = process.env.HYBRIDVISION_CHROMIUM ?? '/usr/bin/chromium';
export const OUT = join(REPO_ROOT, '.out', 'browser');

/** A skip reason when no Chromium is installed (CI installs Debian's). */
export function chromiumOrSkip(): string | false {
  return existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
}

let built: Promise<string> | null = null;
/** Builds the app into .out/browser/app (once per process). */
export function builtApp(): Promise<string> {
  built ??= buildApp(join(OUT, 'app'));
  return built;
}

export interface Session {
  server: AppServer;
  browser: Browser;
  context: BrowserContext;
  profile: string;
  close(): Promise<void>;
}

/** Serves the built app (plus `mounts`) and launches Chromium with a fresh profile. */
export async function openBrowser(mounts: Record<string, string> = {}): Promise<Session> {
  const root = await builtApp();
  mkdirSync(OUT, { recursive: true });
  const server = await serveApp(root, 0, mounts);
  const profile = mkdtempSync(join(tmpdir(), 'hv-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1100, height: 800 },
  });
  const browser = context.browser() as Browser;
  return {
    server,
    browser,
    context,
    profile,
    async close() {
      await context.close();
      await server.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Waits until data-testid=`id` has text matching `re` (or fails with the page's status and console). */
export async function waitText(page: Page, id: string, re: RegExp, timeout = 120_000): Promise<string> {
  const loc = page.getByTestId(id);
  const t0 = Date.now();
  for (;;) {
    const txt = (await loc.textContent()) ?? '';
    if (re.test(txt)) return txt;
    const status = (await page.getByTestId('status').textContent()) ?? '';
    if (status.startsWith('error') && id !== 'status') throw new Error(`page status: ${status}`);
    if (Date.now() - t0 > timeout) throw new Error(`timed out waiting for ${id} ~ ${re} (got '${txt.slice(0, 200)}', status '${status}')`);
    await page.waitForTimeout(100);
  }
}

/** Collects the page's console errors (the tests print them on failure). */
export function consoleLog(page: Page): string[] {
  const lines: string[] = [];
  page.on('console', (m) => lines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
  return lines;
}
