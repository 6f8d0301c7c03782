import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

// A real browser for the chat page tests: Debian's Chromium (.ci/run installs it) driven by
// playwright-core. Playwright gives every launch a new, empty profile (--user-data-dir).

export const CHROMIUM = process.env.OWLRUN_CHROMIUM ?? '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/** The balance the page shows (the data-testid="balance" element), as a number. */
export async function balanceOf(page: Page): Promise<number> {
  return Number(await page.getByTestId('balance').textContent());
}

/** Waits until the page shows this balance. */
export async function waitForBalance(page: Page, sats: number): Promise<void> {
  await page.waitForFunction((n) => document.querySelector('[data-testid="balance"]')?.textContent === String(n), sats);
}

/** Opens the chat page and waits until it has started (models loaded, left-over money recovered). */
export async function openPage(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]');
}
