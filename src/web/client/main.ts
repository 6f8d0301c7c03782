// The chat page: Top up → Prompt → Take your change. No framework: a few elements by id.
import './styles.css';
import { api, describeGatewayError, streamChat, type ChatResult, type ModelEntry, type PaymentInfo } from './api.js';
import { backupView, type BackupView } from './backup-view.js';
import { planPrompt, priceText, type ChatMessage } from './budget.js';
import { clearConversation, historyOf, loadConversation } from './conversation.js';
import { el, installCopyButtons, messageOf, setStatus, showError, sleep } from './dom.js';
import { withWalletLock } from './lock.js';
import { describeMintError } from './mint-errors.js';
import { addMessage, keepExchange, showExchanges } from './messages-view.js';
import { hasWords } from './seed.js';
import { settings, walletKey } from './store.js';
import { topUpView, type TopUpView } from './topup-view.js';
import { BrowserWallet, WalletError, normalizeMint } from './wallet.js';
import { withdrawView, type WithdrawView } from './withdraw-view.js';

const ui = {
  balance: el('balance'),
  devmint: el('devmint-banner'),
  broadcasts: el('broadcasts'),
  topupPanel: el<HTMLDetailsElement>('topup-panel'),
  topupAmount: el<HTMLInputElement>('topup-amount'),
  apikeyCard: el('apikey-card'),
  apikeyForm: el<HTMLFormElement>('apikey-form'),
  apikeyInput: el<HTMLInputElement>('apikey-input'),
  modelSelect: el<HTMLSelectElement>('model-select'),
  modelPrice: el('model-price'),
  newChat: el<HTMLButtonElement>('new-chat'),
  conversation: el('conversation'),
  promptForm: el<HTMLFormElement>('prompt-form'),
  promptInput: el<HTMLTextAreaElement>('prompt-input'),
  promptHint: el('prompt-hint'),
  sendButton: el<HTMLButtonElement>('send-button'),
  withdrawCard: el('withdraw-card'),
  mintInfo: el('mint-info'),
};

let info: PaymentInfo = { payment_required: false, mints: [], unit: 'sat', min_sats_per_job: 2, auth_required: false };
let wallet: BrowserWallet | undefined;
let backup: BackupView | undefined;
let withdraw: WithdrawView | undefined;
let topUp: TopUpView | undefined;
let models: ModelEntry[] = [];
let oracleBtcUsd: number | undefined;
/** What the next prompt is sent after: the finished exchanges of the kept conversation. */
const history: ChatMessage[] = [];

// ---- balance ----

function balance(): number {
  return wallet?.balance() ?? 0;
}

/** Sats out of the balance but not lost: tokens of prompts whose change is not back yet. */
function inFlight(): number {
  return wallet?.state().payments.reduce((n, p) => n + p.amount, 0) ?? 0;
}

function render(): void {
  ui.balance.textContent = wallet ? String(balance()) : '—';
  withdraw?.render(balance());
  backup?.render(balance() + inFlight());
  updatePromptHint();
}

window.addEventListener('storage', (e) => {
  if (wallet && e.key === walletKey(wallet.mint)) render();
});

// The seed's "withdraw before closing": sats in this browser are lost with it.
window.addEventListener('beforeunload', (e) => {
  if (balance() + inFlight() > 0) {
    e.preventDefault();
    e.returnValue = ''; // older browsers need it set to show the prompt
  }
});

// ---- models and prices ----

function currentModel(): ModelEntry | undefined {
  return models.find((m) => m.id === ui.modelSelect.value);
}

function rateOf(m: ModelEntry): number | undefined {
  return m.pricing.btc_usd ?? oracleBtcUsd;
}

function renderModels(): void {
  const keep = ui.modelSelect.value || settings.get('model');
  ui.modelSelect.replaceChildren(
    ...models.map((m) => {
      const o = document.createElement('option');
      o.value = m.id;
      o.textContent = `${m.id} — ${priceText(m, info.payment_required, rateOf(m))}`;
      return o;
    }),
  );
  if (models.length === 0) {
    const o = document.createElement('option');
    o.value = '';
    o.textContent = 'no model is being served right now';
    ui.modelSelect.append(o);
  } else if (models.some((m) => m.id === keep)) ui.modelSelect.value = keep;
  const m = currentModel();
  ui.modelPrice.textContent = m ? `Price: ${priceText(m, info.payment_required, rateOf(m))}. You pay with a token worth the most a prompt can cost and get the rest back.` : '';
}

ui.modelSelect.addEventListener('change', () => {
  settings.set('model', ui.modelSelect.value);
  renderModels();
  updatePromptHint();
});

// ---- the prompt's budget ----

function messagesFor(text: string): ChatMessage[] {
  return [...history, { role: 'user', content: text }];
}

function plan(text: string) {
  const m = currentModel();
  if (!m || !info.payment_required) return undefined;
  const rate = rateOf(m);
  if (!rate) return undefined;
  return planPrompt({ price: m.pricing, btcUsd: rate, minSats: info.min_sats_per_job, messages: messagesFor(text), balance: balance() });
}

function updatePromptHint(): void {
  if (!info.payment_required || !wallet) return setStatus(ui.promptHint, '');
  const p = plan(ui.promptInput.value.trim() || ' ');
  if (!p) return setStatus(ui.promptHint, '');
  if (p.ok) setStatus(ui.promptHint, `Pays at most ${p.amount} sats (up to ${p.maxTokens} tokens of answer); the rest comes back.`);
  else setStatus(ui.promptHint, `Balance too low: a prompt can cost up to ${p.need} sats here. Top up at least ${p.shortBy} sats.`, true);
}
ui.promptInput.addEventListener('input', updatePromptHint);

// ---- API key (auth.required) ----

ui.apikeyForm.addEventListener('submit', (e) => {
  e.preventDefault();
  settings.set('apiKey', ui.apikeyInput.value.trim());
  ui.apikeyInput.blur();
});
ui.apikeyInput.addEventListener('change', () => settings.set('apiKey', ui.apikeyInput.value.trim()));

// ---- prompt → answer ----

function explain(res: ChatResult): string {
  const e = res.error;
  if (!e) return 'the answer broke off';
  if (e.status === 401) {
    ui.apikeyCard.hidden = false;
    return e.code === 'auth_invalid_key' ? 'The API key is not valid: enter the right one above.' : 'This gateway needs an API key: enter it above.';
  }
  return e.message;
}

async function send(text: string): Promise<void> {
  const model = currentModel();
  if (!model) throw new WalletError('No model is being served right now.');
  const messages = messagesFor(text);
  const apiKey = info.auth_required ? settings.get('apiKey') || undefined : undefined;
  if (info.auth_required && !apiKey) {
    ui.apikeyInput.focus();
    throw new WalletError('This gateway needs an API key: enter it above first.');
  }
  const p = plan(text);
  if (info.payment_required) {
    if (!wallet) throw new WalletError('This gateway names no mint to pay with.');
    if (!p) throw new WalletError('The gateway gave no BTC/USD rate to price the prompt.');
    if (!p.ok) {
      // Nothing is sent: say why and take the person to the top-up, leaving its amount as they set it.
      ui.topupPanel.open = true;
      ui.topupAmount.focus();
      throw new WalletError(
        balance() === 0
          ? `Your wallet is empty: top up first (at least ${p.shortBy} sats for this prompt), then send again.`
          : `Balance too low: this prompt can cost up to ${p.need} sats. Top up at least ${p.shortBy} sats, then send again.`,
      );
    }
  }
  // The token first: if the wallet cannot make it (the mint is unreachable…), nothing is shown as sent.
  const payment = p?.ok && wallet ? await wallet.pay(p.amount) : undefined;
  render();
  ui.promptInput.value = '';
  addMessage('user', text);
  const answer = addMessage('assistant', '');
  let res: ChatResult;
  try {
    res = await streamChat({
      model: model.id,
      messages,
      maxTokens: p?.ok ? p.maxTokens : 512,
      token: payment?.token,
      apiKey,
      onReceipt: (r) => payment && wallet?.setReceipt(payment.id, r),
      onText: (t) => (answer.text.textContent = t),
    });
  } catch (err) {
    // No answer came back. The token is still ours unless the gateway claimed it; then its
    // change (or refund) waits at the receipt, which the page knows from the token itself.
    let note = 'nothing was charged';
    if (payment && wallet) {
      const back = await wallet.reclaim(payment.id).catch(() => undefined);
      const receipt = wallet.state().payments.find((x) => x.id === payment.id)?.receipt;
      if (back === null && receipt) {
        const c = await api.changeWhenSettled(receipt);
        if (c) {
          await wallet.settle(payment.id, c.token);
          note = `${c.cost_sats ?? payment.amount - c.change_sats} sats charged, the rest is back`;
        } else note = 'your change will be collected when you reload';
      } else if (back === undefined) note = 'the token will be taken back when you reload';
    }
    answer.item.dataset.state = 'failed';
    answer.item.classList.add('failed');
    answer.meta.textContent = `No answer (${describeGatewayError(err)}); ${note}.`;
    keepExchange(model.id, text, answer);
    render();
    return;
  }

  let change: { token: string; change_sats: number; cost_sats?: number } | undefined = res.change;
  if (payment && wallet && !change && res.status === 200 && res.receipt) {
    answer.meta.textContent = 'The answer broke off; fetching your change by receipt…';
    change = (await api.changeWhenSettled(res.receipt)) ?? undefined;
  }

  if (!payment || !wallet) {
    answer.item.dataset.state = res.error || res.broken ? 'failed' : 'done';
  } else if (change) {
    const paid = payment.amount;
    await wallet.settle(payment.id, change.token);
    const cost = change.cost_sats ?? paid - change.change_sats;
    answer.item.dataset.costSats = String(cost);
    answer.meta.textContent = change.change_sats > 0 ? `${cost} sats · ${change.change_sats} of the ${paid} paid came back as change` : `${cost} sats`;
    answer.item.dataset.state = res.error ? 'failed' : 'done';
  } else if (res.status !== 200) {
    // Refused before the job: the token (or a refund) comes back in X-Cashu-Change, else it was never claimed.
    const back = res.refund ? await wallet.settle(payment.id, res.refund) : await wallet.reclaim(payment.id);
    answer.item.dataset.costSats = '0';
    answer.item.dataset.state = 'failed';
    answer.item.classList.add('failed');
    answer.meta.textContent =
      back === null ? `${explain(res)} — the token was already spent; its change, if any, is collected when you reload.` : `${explain(res)} — nothing was charged (${back} sats back).`;
  } else {
    answer.item.dataset.state = 'failed';
    answer.meta.textContent = 'The answer broke off and the change is not ready yet: it will be collected when you reload.';
  }
  if (answer.item.dataset.state === 'done') history.push({ role: 'user', content: text }, { role: 'assistant', content: res.text });
  else if (res.error && !answer.item.classList.contains('failed')) answer.meta.textContent += ` — ${explain(res)}`;
  keepExchange(model.id, text, answer);
  render();
}

ui.promptForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = ui.promptInput.value.trim();
  if (!text || ui.sendButton.disabled) return;
  ui.sendButton.disabled = true;
  showError(null);
  send(text)
    .then(
      () => render(),
      (err: unknown) => {
        render();
        // After render(), which rewrites the hint: the reason this prompt was not sent stays visible.
        if (err instanceof WalletError) setStatus(ui.promptHint, err.message, true);
        else showError(wallet ? `The prompt was not sent. ${describeMintError(err, wallet.mint, 'make its payment')}` : `The prompt failed: ${messageOf(err)}`);
      },
    )
    .finally(() => (ui.sendButton.disabled = false));
});

ui.promptInput.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) ui.promptForm.requestSubmit();
});

ui.newChat.addEventListener('click', () => {
  history.length = 0;
  clearConversation();
  ui.conversation.replaceChildren();
  updatePromptHint();
});

// ---- start-up ----

/** Money left in flight by an earlier visit: requests to the mint it did not see finish, change to collect, top-ups to mint. */
async function recover(): Promise<void> {
  if (!wallet) return;
  const w = wallet;
  try {
    await withWalletLock(() => w.recover());
  } catch (err) {
    showError(`Some sats of an interrupted operation are not back yet: ${describeMintError(err, w.mint, 'recover them')} The page tries again on the next visit.`);
  }
  for (const p of w.state().payments) {
    try {
      const c = p.receipt ? await api.change(p.receipt) : null;
      if (c?.status === 'settled') await w.settle(p.id, c.token);
      else if (c === null && Date.now() - p.createdAt > 60_000) {
        // The gateway keeps no job for it: it never took the token. Take it back (spent with no
        // job to ask cannot happen with this page; such a payment is given up).
        if ((await w.reclaim(p.id)) === null) w.forgetPayment(p.id);
      }
      // pending: the job still runs (another tab?) — next time
    } catch {
      /* the gateway or the mint is unreachable: try again next time */
    }
  }
  const quotes = w.state().quotes;
  for (const q of quotes) {
    try {
      const status = await w.checkTopUp(q);
      if (status === 'paid') await w.finishTopUp(q.quote);
      else if (status !== 'unpaid') w.forgetTopUp(q.quote);
    } catch {
      /* the mint is unreachable: keep it */
    }
  }
  const open = w.state().quotes.at(-1);
  if (open) {
    await topUp?.resume(open);
  }
  render();
}

async function checkDevMint(mint: string): Promise<void> {
  try {
    const res = await fetch(`${mint}/v1/info`, { cache: 'no-store' });
    const i = (await res.json()) as { name?: string; description?: string; motd?: string };
    const text = `${i.name ?? ''} ${i.description ?? ''} ${i.motd ?? ''}`;
    ui.devmint.hidden = !/not real money/i.test(text);
    ui.mintInfo.textContent = `Mint: ${i.name ? `${i.name} — ` : ''}${mint}`;
  } catch {
    ui.mintInfo.textContent = `Mint: ${mint} (not reachable right now)`;
  }
}

async function start(): Promise<void> {
  info = await api.paymentInfo();
  if (info.auth_required) {
    ui.apikeyCard.hidden = false;
    ui.apikeyInput.value = settings.get('apiKey');
  }
  const mint = info.mints[0];
  const wordsBefore = hasWords();
  if (info.payment_required && mint) {
    wallet = new BrowserWallet(normalizeMint(mint));
    backup = backupView(wallet, render);
    topUp = topUpView(wallet, render);
    withdraw = withdrawView(wallet, render);
    void checkDevMint(wallet.mint);
  } else {
    for (const s of document.querySelectorAll<HTMLElement>('.steps, #keep-note, .balance')) s.hidden = true;
    ui.withdrawCard.hidden = true;
  }
  const kept = loadConversation();
  showExchanges(kept);
  history.push(...historyOf(kept));
  render();
  const [ms, rate, broadcasts] = await Promise.all([api.models(), api.btcUsd(), api.broadcasts()]);
  models = ms;
  oracleBtcUsd = rate;
  renderModels();
  ui.broadcasts.replaceChildren(
    ...broadcasts.map((b) => {
      const d = document.createElement('div');
      d.className = `banner ${b.level}`;
      d.textContent = b.message;
      return d;
    }),
  );
  render();
  await recover();
  if (wallet) {
    // Sats kept by this page before it had recovery words: made restorable by them.
    await wallet.adoptProofs(wordsBefore).catch((err: unknown) => showError(`Your sats are here, but not yet covered by the recovery words: ${describeMintError(err, wallet!.mint, 'swap them')}`));
    render();
  }
  document.body.dataset.ready = 'true';
}

installCopyButtons();

start().catch((err: unknown) => {
  showError(`The page could not start: ${describeGatewayError(err)}.`);
  document.body.dataset.ready = 'error';
});
