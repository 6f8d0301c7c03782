import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createFakeInvoice } from '../../src/devmint/index.js';
import { buildWeb } from '../../src/web/build.js';
import { packageRoot } from '../../src/web/paths.js';
import { PaidEnv } from '../helpers/paid-env.js';
import { balanceOf, chromiumAvailable, CHROMIUM, launchChromium, openPage, waitForBalance } from './browser.js';

// The chat page in a real browser (Debian's Chromium through playwright-core) against a dev mint,
// a simulator and a paying gateway. Every wait is on a selector or a condition, never a timer.
// OWLRUN_SCREENSHOT=1 also saves docs/images/chat-page.png.

const MODEL = 'owlrun-simulator';
const PLUGINS = ['auth', 'payment', 'metering', 'change', 'oracle'];
const PHONE = { width: 390, height: 844 };

interface JobRow {
  [k: string]: string | number;
  cost_sats: number;
  token_sats: number;
  state: string;
}

async function lastJob(env: PaidEnv): Promise<JobRow> {
  const row = await env.gw.db.get<JobRow>(`SELECT cost_sats, token_sats, state FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT 1`);
  assert.ok(row, 'the gateway journaled the job');
  return { cost_sats: Number(row.cost_sats), token_sats: Number(row.token_sats), state: row.state };
}

async function jobCount(env: PaidEnv): Promise<number> {
  return Number((await env.gw.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM jobs'))?.n ?? 0);
}

/** Types a prompt, sends it, and waits until its answer (the n-th) is finished. */
async function ask(page: Page, text: string, n: number): Promise<{ state: string; cost: number; text: string }> {
  await page.getByTestId('prompt-input').fill(text);
  await page.getByTestId('send-button').click();
  const answer = page.getByTestId('answer').nth(n - 1);
  await page.waitForFunction((i) => {
    const a = document.querySelectorAll('[data-testid="answer"]')[i];
    return a instanceof HTMLElement && (a.dataset.state === 'done' || a.dataset.state === 'failed');
  }, n - 1);
  return {
    state: (await answer.getAttribute('data-state')) ?? '',
    cost: Number(await answer.getAttribute('data-cost-sats')),
    text: (await answer.locator('.text').textContent()) ?? '',
  };
}

async function topUp(page: Page, sats: number): Promise<void> {
  const before = await balanceOf(page);
  await page.getByTestId('topup-amount').fill(String(sats));
  await page.getByTestId('topup-button').click();
  await page.waitForSelector('[data-testid="invoice-qr"][src^="data:image/svg+xml"]', { state: 'attached' });
  await waitForBalance(page, before + sats);
}

describe('chat page in a real browser (Chromium)', function () {
  this.timeout(60_000);
  let env: PaidEnv;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  before(async function () {
    if (!chromiumAvailable()) {
      if (process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
      console.warn(`    (skipped: no Chromium at ${CHROMIUM}; apt-get install chromium)`);
      this.skip();
    }
    await buildWeb({ minify: false }); // test today's page source
    env = await PaidEnv.start({
      sim: { kind: 'ollama', models: [MODEL], tokens: 30, tokenDelayMs: 10 },
      config: { plugins: PLUGINS },
    });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: PHONE });
    page = await context.newPage();
    page.on('pageerror', (err) => console.error('page error:', err));
  });

  after(async () => {
    await browser?.close();
    await env?.close();
  });

  it('serves the page at GET /: balance 0, dev-mint banner, the model with its price, fits a phone', async () => {
    await openPage(page, env.gw.url + '/');
    assert.equal(await balanceOf(page), 0);
    assert.ok(await page.getByTestId('devmint-banner').isVisible(), 'the development mint is flagged');
    assert.match((await page.getByTestId('devmint-banner').textContent()) ?? '', /NOT real money/i);
    const option = page.getByTestId('model-select').locator('option');
    assert.equal(await option.count(), 1);
    assert.match((await option.first().getAttribute('value')) ?? '', new RegExp(`^${MODEL}`)); // Ollama adds ':latest'
    // TEST_PRICING at the oracle's fixed 100,000 USD/BTC: 0.1 sat a prompt token, 1 sat an answer token
    assert.match((await option.first().textContent()) ?? '', /100,000 \/ 1,000,000 sats per 1M tokens/);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0, 'no horizontal scrolling at phone width');
  });

  it('with balance 0 a prompt is not sent: it says how much to top up', async () => {
    await page.getByTestId('prompt-input').fill('Hello owl');
    await page.getByTestId('send-button').click();
    await page.waitForFunction(() => /Top up at least \d+ sats/.test(document.querySelector('[data-testid="prompt-hint"]')?.textContent ?? ''));
    assert.equal(await page.getByTestId('answer').count(), 0);
    assert.equal(await jobCount(env), 0, 'nothing reached the gateway');
  });

  it('tops up 200 by Lightning (QR invoice, NUT-04 at the dev mint) → balance 200', async () => {
    await topUp(page, 200);
    assert.equal(await balanceOf(page), 200);
    assert.match(await page.getByTestId('invoice-text').inputValue(), /^lnbc/);
    assert.match((await page.getByTestId('invoice-status').textContent()) ?? '', /200 sats added/);
  });

  it('a prompt streams, shows its cost, and the balance drops by exactly what the gateway charged', async () => {
    // Record every text change of the first answer while it is still streaming.
    await page.evaluate(() => {
      const w = window as unknown as { __updates: number };
      w.__updates = 0;
      new MutationObserver(() => {
        const a = document.querySelector('[data-testid="answer"]');
        if (a instanceof HTMLElement && a.dataset.state === 'streaming' && (a.querySelector('.text')?.textContent ?? '') !== '') w.__updates++;
      }).observe(document.getElementById('conversation')!, { subtree: true, childList: true, characterData: true });
    });
    const before = await balanceOf(page);
    const answer = await ask(page, 'Hello owl, what do you see?', 1);
    assert.equal(answer.state, 'done');
    assert.ok(answer.text.length > 20, 'the answer text is shown');
    const updates = await page.evaluate(() => (window as unknown as { __updates: number }).__updates);
    assert.ok(updates > 1, `the answer appeared piece by piece (${updates} updates while streaming)`);

    const job = await lastJob(env);
    assert.equal(job.state, 'settled');
    assert.ok(job.cost_sats > 30 && job.cost_sats < job.token_sats, `a real bill below the token (${job.cost_sats} of ${job.token_sats})`);
    assert.equal(answer.cost, job.cost_sats, 'the cost shown is the gateway\'s bill');
    assert.match((await page.getByTestId('answer-cost').first().textContent()) ?? '', new RegExp(`^${job.cost_sats} sats`));
    await waitForBalance(page, before - job.cost_sats);
    assert.equal(await balanceOf(page), 200 - job.cost_sats);
    await env.assertBooksBalance();

    if (process.env.OWLRUN_SCREENSHOT) {
      const file = resolve(packageRoot(), 'docs/images/chat-page.png');
      await mkdir(dirname(file), { recursive: true });
      await page.setViewportSize({ width: 900, height: 1250 });
      await page.screenshot({ path: file });
      await page.setViewportSize(PHONE);
    }
  });

  it('a pasted token adds its value, and is swapped (the sender can no longer spend it)', async () => {
    const before = await balanceOf(page);
    const token = await env.token(50);
    await page.getByText('Or paste ecash').click();
    await page.getByTestId('load-token-input').fill(token);
    await page.getByTestId('load-token-button').click();
    await waitForBalance(page, before + 50);
    assert.match((await page.getByTestId('load-status').textContent()) ?? '', /50 sats added/);
    assert.equal(await env.spendable(token), false, 'the pasted proofs were swapped at the mint');
    // The same token again: refused, the balance does not move.
    await page.getByTestId('load-token-input').fill(token);
    await page.getByTestId('load-token-button').click();
    await page.waitForFunction(() => /already been spent/.test(document.querySelector('[data-testid="load-status"]')?.textContent ?? ''));
    assert.equal(await balanceOf(page), before + 50);
  });

  it('a reload keeps the balance (localStorage)', async () => {
    const before = await balanceOf(page);
    page.once('dialog', (d) => void d.accept()); // the "leave the page?" prompt, if the browser shows one
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await balanceOf(page), before);
    assert.ok(before > 0);
  });

  it('a broken stream: the change comes by X-Cashu-Receipt, and the balance still drops by exactly the cost', async () => {
    const before = await balanceOf(page);
    // Cut the answer before its cashu_change event, as a dropped connection would.
    await page.route('**/v1/chat/completions', async (route) => {
      const res = await route.fetch();
      const body = await res.text();
      const cut = body.indexOf('data: {"type":"cashu_change"');
      assert.ok(cut > 0, 'the gateway sent a change event');
      await route.fulfill({ status: res.status(), headers: res.headers(), body: body.slice(0, cut) });
    });
    const byReceipt: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/v1/change/')) byReceipt.push(r.url());
    });
    const n = await page.getByTestId('answer').count();
    const answer = await ask(page, 'Tell me a story', n + 1);
    await page.unroute('**/v1/chat/completions');
    assert.equal(answer.state, 'done');
    assert.ok(byReceipt.length > 0, 'the page asked GET /v1/change/{receipt}');
    const job = await lastJob(env);
    assert.equal(answer.cost, job.cost_sats);
    await waitForBalance(page, before - job.cost_sats);
    await env.assertBooksBalance();
  });

  it('no response at all: the change is found at the receipt the page derives from its token', async () => {
    const before = await balanceOf(page);
    // The request reaches the gateway and runs to the end, but the browser never sees a byte of it.
    await page.route('**/v1/chat/completions', async (route) => {
      await (await route.fetch()).body();
      await route.abort('connectionreset');
    });
    const n = await page.getByTestId('answer').count();
    const answer = await ask(page, 'Are you there?', n + 1);
    await page.unroute('**/v1/chat/completions');
    assert.equal(answer.state, 'failed');
    const job = await lastJob(env);
    assert.equal(job.state, 'settled');
    assert.match((await page.getByTestId('answer-cost').nth(n).textContent()) ?? '', new RegExp(`${job.cost_sats} sats charged, the rest is back`));
    await waitForBalance(page, before - job.cost_sats);
    const pending = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('owlrun:wallet')).map((k) => JSON.parse(localStorage.getItem(k)!).payments.length));
    assert.deepEqual(pending, [0], 'no payment left pending');
    await env.assertBooksBalance();
  });

  it('a Lightning invoice that expires unpaid says so', async () => {
    const expired = { quote: 'expired-quote', request: createFakeInvoice(21), amount: 21, unit: 'sat', state: 'UNPAID', expiry: Math.floor(Date.now() / 1000) - 1 };
    const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': '*', 'access-control-allow-methods': 'GET, POST, OPTIONS' };
    await page.route(`${env.mintUrl}/v1/mint/quote/bolt11**`, (route) =>
      route.request().method() === 'OPTIONS'
        ? route.fulfill({ status: 204, headers: cors })
        : route.fulfill({ status: 200, headers: { ...cors, 'content-type': 'application/json' }, body: JSON.stringify(expired) }),
    );
    const before = await balanceOf(page);
    await page.getByTestId('topup-amount').fill('21');
    await page.getByTestId('topup-button').click();
    await page.waitForFunction(() => /expired/i.test(document.querySelector('[data-testid="invoice-status"]')?.textContent ?? ''));
    await page.unroute(`${env.mintUrl}/v1/mint/quote/bolt11**`);
    assert.equal(await balanceOf(page), before);
    const quotes = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('owlrun:wallet')).map((k) => JSON.parse(localStorage.getItem(k)!).quotes.length));
    assert.deepEqual(quotes, [0], 'the expired quote is forgotten');
  });

  it('closing the page with sats in it asks first', async () => {
    const dialog = new Promise<string>((resolve) =>
      page.once('dialog', (d) => {
        resolve(d.type());
        void d.dismiss(); // stay on the page
      }),
    );
    await page.close({ runBeforeUnload: true });
    assert.equal(await dialog, 'beforeunload');
    assert.equal(page.isClosed(), false, 'dismissing the prompt keeps the page open');
    assert.ok(await page.locator('#keep-note').isVisible(), 'a visible note says to withdraw before closing');
  });

  it('withdraw: one token of the whole balance (text + QR) that cashu-ts redeems in full; the balance reads 0', async () => {
    const before = await balanceOf(page);
    assert.ok(before > 0);
    await page.getByTestId('withdraw-button').click();
    await page.waitForFunction(() => ((document.querySelector('[data-testid="withdraw-token"]') as HTMLTextAreaElement | null)?.value ?? '').startsWith('cashuB'));
    await waitForBalance(page, 0);
    const token = await page.getByTestId('withdraw-token').inputValue();
    assert.match((await page.getByTestId('withdraw-qr').getAttribute('src')) ?? '', /^data:image\/svg\+xml/);
    assert.equal(await env.redeem(token), before, 'the token holds the whole balance');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0, 'still no horizontal scrolling at phone width, with answers and a long token');
    // Nothing left to lose: closing no longer asks.
    let asked = false;
    page.once('dialog', (d) => {
      asked = true;
      void d.accept();
    });
    await page.close({ runBeforeUnload: true });
    await page.waitForEvent('close');
    assert.equal(asked, false);
  });

  describe('with auth.required', () => {
    let authEnv: PaidEnv;
    let authPage: Page;
    before(async () => {
      authEnv = await PaidEnv.start({
        mint: env.mint,
        sim: { kind: 'ollama', models: [MODEL], tokens: 10 },
        config: { plugins: PLUGINS, auth: { required: true, apiKeys: [{ id: 'alice', key: 'owl-key-1' }] } },
      });
      authPage = await (await browser.newContext({ viewport: PHONE })).newPage();
    });
    after(async () => {
      await authEnv?.close();
    });

    it('asks for an API key, keeps the sats on a 401, and pays once the key is given', async () => {
      await openPage(authPage, authEnv.gw.url + '/');
      assert.ok(await authPage.getByTestId('apikey-input').isVisible(), 'the page asks for an API key');
      await topUp(authPage, 100);
      // No key yet: nothing is sent.
      await authPage.getByTestId('prompt-input').fill('Hi');
      await authPage.getByTestId('send-button').click();
      await authPage.waitForFunction(() => /needs an API key/.test(document.querySelector('[data-testid="prompt-hint"]')?.textContent ?? ''));
      assert.equal(await authPage.getByTestId('answer').count(), 0);
      // A wrong key: 401, and the token comes back into the wallet.
      await authPage.getByTestId('apikey-input').fill('wrong-key');
      await authPage.getByTestId('apikey-save').click();
      const refused = await ask(authPage, 'Hi', 1);
      assert.equal(refused.state, 'failed');
      assert.match((await authPage.getByTestId('answer-cost').first().textContent()) ?? '', /API key is not valid.*nothing was charged/);
      await waitForBalance(authPage, 100);

      await authPage.getByTestId('apikey-input').fill('owl-key-1');
      await authPage.getByTestId('apikey-save').click();
      await authPage.reload();
      await authPage.waitForSelector('body[data-ready="true"]');
      assert.equal(await authPage.getByTestId('apikey-input').inputValue(), 'owl-key-1', 'the key is kept in the browser');
      const ok = await ask(authPage, 'Hi again', 1); // the reload started a new conversation
      assert.equal(ok.state, 'done');
      const job = await lastJob(authEnv);
      assert.equal(ok.cost, job.cost_sats);
      await waitForBalance(authPage, 100 - job.cost_sats);
      assert.equal(authEnv.sim.requests.at(-1)?.headers.authorization, undefined, 'the key is not forwarded to the backend');
    });
  });
});
