import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Proof } from '@cashu/cashu-ts';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createFakeInvoice } from '../../src/devmint/index.js';
import { buildWeb } from '../../src/web/build.js';
import { packageRoot } from '../../src/web/paths.js';
import { PaidEnv } from '../helpers/paid-env.js';
import { balanceOf, chromiumAvailable, CHROMIUM, launchChromium, openPage, waitForBalance } from './browser.js';
import { qrText } from './qr-frames.js';

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
  /** Uncaught errors in any page of this file: there must be none. */
  const pageErrors: Error[] = [];

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
    page.on('pageerror', (err) => pageErrors.push(err));
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

  it('with balance 0 a prompt is not sent: it says why and takes you to the top-up, its amount untouched', async () => {
    assert.ok(await page.getByTestId('restore-button').isVisible(), 'an empty wallet offers to restore from words');
    assert.equal(await page.getByTestId('backup-words').isVisible(), false, 'no words to note before there are sats');
    await page.getByTestId('prompt-input').fill('Hello owl');
    await page.getByTestId('send-button').click();
    await page.waitForFunction(() => /wallet is empty: top up first \(at least \d+ sats/.test(document.querySelector('[data-testid="prompt-hint"]')?.textContent ?? ''));
    assert.equal(await page.getByTestId('answer').count(), 0);
    assert.equal(await page.getByTestId('topup-amount').inputValue(), '1000', 'the amount the person set stays');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'topup-amount', 'the top-up has the focus');
    assert.equal(await jobCount(env), 0, 'nothing reached the gateway');
  });

  it('a mint that cannot be reached is named as such (not "Failed to fetch")', async () => {
    env.mint.down = true;
    try {
      await page.getByTestId('topup-button').click();
      await page.waitForFunction((m) => (document.querySelector('[data-testid="invoice-status"]')?.textContent ?? '').startsWith(`Could not reach the mint at ${m}`), env.mintUrl);
    } finally {
      env.mint.down = false;
    }
    assert.doesNotMatch((await page.getByTestId('invoice-status').textContent()) ?? '', /Failed to fetch/);
  });

  it('tops up 200 by Lightning (QR invoice, NUT-04 at the dev mint) → balance 200', async () => {
    await topUp(page, 200);
    assert.equal(await balanceOf(page), 200);
    assert.match(await page.getByTestId('invoice-text').inputValue(), /^lnbc/);
    assert.match((await page.getByTestId('invoice-status').textContent()) ?? '', /200 sats added/);
    // The first sats: the recovery words are shown, without a click, blocking nothing.
    const words = (await page.getByTestId('backup-words').textContent()) ?? '';
    assert.equal(words.split(' ').length, 12);
    assert.ok(await page.getByTestId('backup-words').isVisible());
    assert.match((await page.locator('#backup-card').textContent()) ?? '', /Write these 12 words down/);
    assert.equal(await page.getByTestId('restore-button').isVisible(), false, 'no restore over a wallet with sats');
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
    const costLine = (await page.getByTestId('answer-cost').first().textContent()) ?? '';
    assert.match(costLine, new RegExp(`^${job.cost_sats} sats · ${job.token_sats - job.cost_sats} of the ${job.token_sats} paid came back as change$`));
    await waitForBalance(page, before - job.cost_sats);
    assert.equal(await balanceOf(page), 200 - job.cost_sats);
    await env.assertBooksBalance();

    if (process.env.OWLRUN_SCREENSHOT) {
      const file = resolve(packageRoot(), 'docs/images/chat-page.png');
      await mkdir(dirname(file), { recursive: true });
      await page.setViewportSize({ width: 900, height: 1250 });
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: file, fullPage: true });
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

  it('a reload keeps the balance and the conversation (localStorage)', async () => {
    const before = await balanceOf(page);
    const answers = await page.getByTestId('answer').allTextContents();
    page.once('dialog', (d) => void d.accept()); // the "leave the page?" prompt, if the browser shows one
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await balanceOf(page), before);
    assert.ok(before > 0);
    assert.deepEqual(await page.getByTestId('answer').allTextContents(), answers, 'the answers and their cost lines are back');
    assert.ok(answers.length > 0);
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

  it('withdraws to Lightning: the fee reserve shown, the invoice paid by melt, the unused reserve back', async () => {
    const before = await balanceOf(page);
    const melts = env.mint.counters.get('POST /v1/melt/bolt11') ?? 0;
    await page.getByText('Or withdraw to a Lightning wallet').click();
    // A Lightning address (LNURL-pay) whose service cannot be reached says so; nothing is paid.
    await page.route('https://wallet.example/**', (route) => route.abort('internetdisconnected'));
    await page.getByTestId('melt-input').fill('alice@wallet.example');
    await page.getByTestId('melt-amount').fill('5');
    await page.getByTestId('melt-quote-button').click();
    await page.waitForFunction(() => /^Could not reach wallet\.example to get an invoice for alice@wallet\.example/.test(document.querySelector('[data-testid="melt-status"]')?.textContent ?? ''));
    await page.unroute('https://wallet.example/**');
    // A mint that refuses an expired invoice: said as such.
    const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': '*', 'access-control-allow-methods': 'GET, POST, OPTIONS' };
    await page.route(`${env.mintUrl}/v1/melt/quote/bolt11`, (route) =>
      route.request().method() === 'OPTIONS'
        ? route.fulfill({ status: 204, headers: cors })
        : route.fulfill({ status: 400, headers: { ...cors, 'content-type': 'application/json' }, body: JSON.stringify({ detail: 'invoice expired', code: 20007 }) }),
    );
    await page.getByTestId('melt-input').fill(createFakeInvoice(21));
    await page.getByTestId('melt-quote-button').click();
    await page.waitForFunction(() => (document.querySelector('[data-testid="melt-status"]')?.textContent ?? '') === 'The mint refused to pay this invoice: the invoice has expired.');
    await page.unroute(`${env.mintUrl}/v1/melt/quote/bolt11`);
    await page.getByTestId('melt-input').fill(createFakeInvoice(21));
    assert.equal(await page.getByTestId('melt-amount').isVisible(), false, 'an invoice carries its amount');
    await page.getByTestId('melt-quote-button').click();
    await page.getByTestId('melt-pay-button').waitFor({ state: 'visible' });
    assert.match((await page.getByTestId('melt-status').textContent()) ?? '', /Pays 21 sats, plus a Lightning fee of at most 2 sats/);
    await page.getByTestId('melt-pay-button').click();
    await page.waitForFunction(() => /^Paid/.test(document.querySelector('[data-testid="melt-status"]')?.textContent ?? ''));
    // The development mint's Lightning costs nothing: the whole reserve comes back (NUT-08).
    assert.match((await page.getByTestId('melt-status').textContent()) ?? '', /21 sats left the wallet \(21 to the invoice, 0 in fees\)/);
    await waitForBalance(page, before - 21);
    assert.equal(env.mint.counters.get('POST /v1/melt/bolt11'), melts + 1);
  });

  it('"New chat" clears the kept conversation', async () => {
    await page.getByRole('button', { name: 'New chat' }).click();
    assert.equal(await page.getByTestId('answer').count(), 0);
    assert.equal(await page.evaluate(() => localStorage.getItem('owlrun:conversation:v1')), null);
  });

  it('withdraw: one token of the whole balance, the fewest proofs, its QR code decodes to it, cashu-ts redeems it in full; the balance reads 0', async () => {
    const before = await balanceOf(page);
    assert.ok(before > 0);
    await page.getByTestId('withdraw-button').click();
    await page.waitForFunction(() => ((document.querySelector('[data-testid="withdraw-token"]') as HTMLTextAreaElement | null)?.value ?? '').startsWith('cashuB'));
    await waitForBalance(page, 0);
    const token = await page.getByTestId('withdraw-token').inputValue();
    assert.match((await page.getByTestId('withdraw-qr').getAttribute('src')) ?? '', /^data:image\/svg\+xml/);
    assert.equal((await qrText(page, '[data-testid="withdraw-qr"]')).text, token, 'the QR code carries the token');
    assert.equal(env.client.decodeToken(token).proofs.length, before.toString(2).replace(/0/g, '').length, 'one proof per set bit of the amount');
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

  describe('the wallet survives the tab', () => {
    let tab: Page;
    let tabContext: BrowserContext;
    before(async () => {
      tabContext = await browser.newContext({ viewport: PHONE });
      tab = await tabContext.newPage();
      tab.on('pageerror', (err) => pageErrors.push(err));
      await openPage(tab, env.gw.url + '/');
    });
    after(async () => {
      await tabContext?.close();
    });

    it('sats kept before the page had recovery words are swapped once for ones the words restore', async () => {
      const legacyToken = await env.token(7);
      const legacy = env.client.decodeToken(legacyToken).proofs.map((p) => ({ id: p.id, amount: Number(p.amount), secret: p.secret, C: p.C }));
      await tab.evaluate(
        ({ key, proofs }) => {
          localStorage.clear();
          localStorage.setItem(key, JSON.stringify({ proofs, payments: [], quotes: [] })); // the shape before the words
        },
        { key: `owlrun:wallet:v1:${env.mintUrl}`, proofs: legacy },
      );
      await tab.reload();
      await tab.waitForSelector('body[data-ready="true"]');
      await waitForBalance(tab, 7);
      assert.equal(await env.spendable(legacyToken), false, 'the old proofs were swapped');
      const words = (await tab.getByTestId('backup-words').textContent()) ?? '';
      await tab.evaluate(() => localStorage.clear());
      await tab.reload();
      await tab.waitForSelector('body[data-ready="true"]');
      await tab.getByTestId('restore-input').fill(words);
      await tab.getByTestId('restore-button').click();
      await waitForBalance(tab, 7);
      await tab.getByTestId('withdraw-button').click();
      await waitForBalance(tab, 0);
      assert.equal(await env.redeem(await tab.getByTestId('withdraw-token').inputValue()), 7);
      await tab.evaluate(() => localStorage.clear()); // the next test starts as a new browser
      await tab.reload();
      await tab.waitForSelector('body[data-ready="true"]');
    });

    it('restore: top up, note the words, clear the site data, restore from the words → the same balance; counters go on', async () => {
      await topUp(tab, 1023);
      const words = (await tab.getByTestId('backup-words').textContent()) ?? '';
      await tab.getByTestId('backup-done').click();
      assert.equal(await tab.getByTestId('backup-words').isVisible(), false, 'noted: the words are not shown again by themselves');

      await tab.evaluate(() => localStorage.clear()); // the site's data, cleared
      await tab.reload();
      await tab.waitForSelector('body[data-ready="true"]');
      assert.equal(await balanceOf(tab), 0);
      assert.notEqual(await tab.evaluate(() => localStorage.getItem('owlrun:words:v1')), words, 'a new browser gets new words');
      await tab.getByTestId('restore-input').fill(`  ${words.toUpperCase()} `);
      await tab.getByTestId('restore-button').click();
      await waitForBalance(tab, 1023);
      assert.match((await tab.getByTestId('restore-status').textContent()) ?? '', /1023 sats are back/);

      // The same words restored in a second browser, which then receives 50 sats: the counters it
      // uses next are the ones this tab would use. This tab's next outputs are refused as signed
      // before (11003); it skips past them and receives its own 50.
      const other = await browser.newContext({ viewport: PHONE });
      try {
        const second = await other.newPage();
        second.on('pageerror', (err) => pageErrors.push(err));
        await openPage(second, env.gw.url + '/');
        await second.getByTestId('restore-input').fill(words);
        await second.getByTestId('restore-button').click();
        await waitForBalance(second, 1023);
        await second.getByText('Or paste ecash').click();
        await second.getByTestId('load-token-input').fill(await env.token(50));
        await second.getByTestId('load-token-button').click();
        await waitForBalance(second, 1073);
      } finally {
        await other.close();
      }
      await tab.getByText('Or paste ecash').click();
      await tab.getByTestId('load-token-input').fill(await env.token(50));
      await tab.getByTestId('load-token-button').click();
      await waitForBalance(tab, 1073);
    });

    it('withdraws a long balance as an animated QR code of BC-UR frames that decode to the token', async () => {
      await tab.getByTestId('withdraw-button').click();
      await waitForBalance(tab, 0);
      const token = await tab.getByTestId('withdraw-token').inputValue();
      const { text, frames } = await qrText(tab, '[data-testid="withdraw-qr"]');
      assert.ok(frames > 1, `animated (${frames} frames for ${token.length} characters)`);
      assert.equal(text, token);
      assert.equal(env.client.decodeToken(token).proofs.length, 4, '1073 sats = 1024 + 32 + 16 + 1: one swap made the fewest proofs');
      assert.equal(await env.redeem(token), 1073);
    });

    it('a swap interrupted by closing the page is recovered when the page opens again', async () => {
      await topUp(tab, 300);
      const jobs = await jobCount(env);
      const closed = new Promise<void>((resolve) => tab.once('close', () => resolve()));
      // The mint performs the swap that pays for the prompt, but the tab dies before it sees the answer.
      // The browser's own request stays paused in the route; as the page closes, Chromium may still
      // send it (the mint refuses it: its inputs are spent), so the swap is checked by the state of
      // its inputs at the mint, not by counting requests.
      let inputs: Proof[] = [];
      await tab.route(`${env.mintUrl}/v1/swap`, async (route) => {
        inputs = (route.request().postDataJSON() as { inputs: Proof[] }).inputs;
        await route.fetch();
        void tab.close();
      });
      await tab.getByTestId('prompt-input').fill('This tab will not live to see it');
      await tab.getByTestId('send-button').click();
      await closed;
      assert.ok(inputs.length > 0, 'the page sent its swap');
      const states = await env.client.checkProofsStates(inputs);
      assert.deepEqual(states.map((s) => s.state), inputs.map(() => 'SPENT'), 'the mint swapped the proofs');
      tab = await tabContext.newPage(); // the same site data
      tab.on('pageerror', (err) => pageErrors.push(err));
      const restores = env.mint.counters.get('POST /v1/restore') ?? 0;
      await openPage(tab, env.gw.url + '/');
      await waitForBalance(tab, 300);
      assert.ok((env.mint.counters.get('POST /v1/restore') ?? 0) > restores, 'the swap\'s outputs were restored from their counters (NUT-09)');
      const state = await tab.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('owlrun:wallet')).map((k) => JSON.parse(localStorage.getItem(k)!) as { journal: unknown[]; payments: unknown[] }));
      assert.deepEqual(state.map((s) => [s.journal.length, s.payments.length]), [[0, 0]], 'nothing left in the journal, no payment');
      assert.equal(await jobCount(env), jobs, 'the prompt never reached the gateway');
      await tab.getByTestId('withdraw-button').click();
      await waitForBalance(tab, 0);
      assert.equal(await env.redeem(await tab.getByTestId('withdraw-token').inputValue()), 300, 'the recovered proofs are good');
    });
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
      const ok = await ask(authPage, 'Hi again', 2); // the reload kept the conversation
      assert.equal(ok.state, 'done');
      const job = await lastJob(authEnv);
      assert.equal(ok.cost, job.cost_sats);
      await waitForBalance(authPage, 100 - job.cost_sats);
      assert.equal(authEnv.sim.requests.at(-1)?.headers.authorization, undefined, 'the key is not forwarded to the backend');
    });
  });

  describe('all along', () => {
    it('no uncaught errors in any page', () => {
      assert.deepEqual(pageErrors.map((e) => e.message), []);
    });
  });
});
