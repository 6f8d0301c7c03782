// Step 1, "Top up": a Lightning invoice from the gateway's mint (NUT-04), shown as a QR code and
// followed until paid (then minted into the wallet) or expired; or a pasted Cashu token.
import { el, setStatus, showError, sleep } from './dom.js';
import { describeMintError } from './mint-errors.js';
import { lightningUri, qrDataUrl } from './qr.js';
import type { PendingQuote } from './store.js';
import type { BrowserWallet } from './wallet.js';

const ui = {
  topupForm: el<HTMLFormElement>('topup-form'),
  topupAmount: el<HTMLInputElement>('topup-amount'),
  topupButton: el<HTMLButtonElement>('topup-button'),
  invoice: el('invoice'),
  invoiceQr: el<HTMLImageElement>('invoice-qr'),
  invoiceText: el<HTMLTextAreaElement>('invoice-text'),
  invoiceStatus: el('invoice-status'),
  invoiceCopy: el('invoice-copy'),
  loadForm: el<HTMLFormElement>('load-form'),
  loadInput: el<HTMLTextAreaElement>('load-token-input'),
  loadButton: el<HTMLButtonElement>('load-token-button'),
  loadStatus: el('load-status'),
};

export interface TopUpView {
  /** Shows a top-up left open by an earlier visit and follows it. */
  resume(q: PendingQuote): Promise<void>;
}

export function topUpView(wallet: BrowserWallet, changed: () => void): TopUpView {
  /** The top-up being shown; a newer one stops the older one's polling. */
  let shownQuote: string | undefined;


  async function showInvoice(q: PendingQuote): Promise<void> {
    shownQuote = q.quote;
    ui.invoice.hidden = false;
    ui.invoiceQr.hidden = false;
    ui.invoiceCopy.hidden = false;
    delete ui.invoice.dataset.state;
    ui.invoiceText.value = q.request;
    ui.invoiceQr.src = (await qrDataUrl(lightningUri(q.request))) ?? '';
    setStatus(ui.invoiceStatus, `Pay ${q.amount} sats with any Lightning wallet. Waiting for payment…`);
  }

  /** Polls a quote until it is paid (then mints), expired, or replaced by a newer one. */
  async function followQuote(q: PendingQuote): Promise<void> {
        let failures = 0;
    while (shownQuote === q.quote) {
      let status;
      try {
        status = await wallet.checkTopUp(q);
        failures = 0;
      } catch (err) {
        failures++;
        setStatus(ui.invoiceStatus, `${describeMintError(err, wallet.mint, 'check the invoice')} Retrying…`, true);
        await sleep(Math.min(15000, 1000 * 2 ** failures));
        continue;
      }
      if (status === 'paid') {
        try {
          const added = await wallet.finishTopUp(q.quote);
          setStatus(ui.invoiceStatus, `Paid: ${added} sats added to your wallet.`);
          ui.invoice.dataset.state = 'paid';
          ui.invoiceQr.hidden = true;
          ui.invoiceCopy.hidden = true;
        } catch (err) {
          setStatus(ui.invoiceStatus, `Paid, but the sats are not in the wallet yet: ${describeMintError(err, wallet.mint, 'issue them')} Retrying…`, true);
          await sleep(2000);
          continue;
        }
        changed();
        return;
      }
      if (status === 'expired') {
        wallet.forgetTopUp(q.quote);
        ui.invoice.dataset.state = 'expired';
        ui.invoiceQr.hidden = true;
        ui.invoiceCopy.hidden = true;
        setStatus(ui.invoiceStatus, 'This invoice expired before it was paid. Ask for a new one.', true);
        return;
      }
      if (status === 'issued') {
        wallet.forgetTopUp(q.quote);
        changed();
        return;
      }
      await sleep(1000);
    }
  }

  ui.topupForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void (async () => {
            const amount = Number(ui.topupAmount.value);
      if (!Number.isSafeInteger(amount) || amount <= 0) return setStatus(ui.invoiceStatus, 'Enter a whole number of sats.', true);
      ui.topupButton.disabled = true;
      showError(null);
      try {
        const q = await wallet.createTopUp(amount);
        await showInvoice(q);
        void followQuote(q);
      } catch (err) {
        ui.invoice.hidden = false;
        ui.invoiceQr.hidden = true;
        ui.invoiceCopy.hidden = true;
        setStatus(ui.invoiceStatus, describeMintError(err, wallet.mint, 'create the invoice'), true);
      } finally {
        ui.topupButton.disabled = false;
      }
    })();
  });

  // ---- paste ecash ----

  ui.loadForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void (async () => {
            const token = ui.loadInput.value.trim();
      if (!token) return;
      ui.loadButton.disabled = true;
      setStatus(ui.loadStatus, 'Receiving at the mint…');
      try {
        const added = await wallet.receive(token);
        ui.loadInput.value = '';
        setStatus(ui.loadStatus, `${added} sats added.`);
      } catch (err) {
        setStatus(ui.loadStatus, describeMintError(err, wallet.mint, 'receive the token'), true);
      } finally {
        ui.loadButton.disabled = false;
        changed();
      }
    })();
  });

  return {
    async resume(q) {
      await showInvoice(q);
      void followQuote(q);
    },
  };
}
