// "Take your change": the whole balance as one token (the fewest proofs; an animated QR code
// when it is long), or paid to a Lightning invoice (NUT-05 melt, the unused fee reserve back).
import type { MeltQuoteBolt11Response } from '@cashu/cashu-ts';
import { showQr } from './animated-qr.js';
import { el, setStatus, showError } from './dom.js';
import { LightningAddressError, invoiceFromAddress, isLightningAddress } from './lnurl.js';
import { payInvoice, quoteInvoice } from './melt.js';
import { describeMintError } from './mint-errors.js';
import type { BrowserWallet } from './wallet.js';

const ui = {
  card: el('withdraw-card'),
  button: el<HTMLButtonElement>('withdraw-button'),
  withdrawal: el('withdrawal'),
  qr: el<HTMLImageElement>('withdraw-qr'),
  token: el<HTMLTextAreaElement>('withdraw-token'),
  status: el('withdraw-status'),
  showLast: el<HTMLButtonElement>('show-last-withdrawal'),
  meltForm: el<HTMLFormElement>('melt-form'),
  meltInput: el<HTMLTextAreaElement>('melt-input'),
  meltAmountLabel: el('melt-amount-label'),
  meltAmount: el<HTMLInputElement>('melt-amount'),
  meltQuote: el<HTMLButtonElement>('melt-quote-button'),
  meltPay: el<HTMLButtonElement>('melt-pay-button'),
  meltStatus: el('melt-status'),
};

export interface WithdrawView {
  render(balance: number): void;
}

export function withdrawView(wallet: BrowserWallet, changed: () => void): WithdrawView {
  let quote: MeltQuoteBolt11Response | undefined;

  const showWithdrawal = async (token: string, amount: number, when: string): Promise<void> => {
    ui.withdrawal.hidden = false;
    ui.token.value = token;
    const shown = await showQr(ui.qr, token);
    ui.qr.hidden = !shown;
    const how = shown === 'animated' ? ' Scan the moving QR code with a Cashu wallet (cashu.me, Minibits…), or copy the text.' : shown ? '' : ' (Too long for a QR code: copy the text.)';
    setStatus(ui.status, `${when}: ${amount} sats.${how}`);
  };

  ui.button.addEventListener('click', () => {
    void (async () => {
      ui.button.disabled = true;
      try {
        const { token, amount } = await wallet.withdrawAll();
        await showWithdrawal(token, amount, 'Withdrawn');
      } catch (err) {
        showError(describeMintError(err, wallet.mint, 'prepare the withdrawal'));
      } finally {
        changed();
      }
    })();
  });

  ui.showLast.addEventListener('click', () => {
    const last = wallet.state().lastWithdrawal;
    if (last) void showWithdrawal(last.token, last.amount, `Withdrawn ${new Date(last.at).toLocaleString()}`).then(changed);
  });

  const resetMelt = () => {
    quote = undefined;
    ui.meltPay.hidden = true;
  };
  ui.meltInput.addEventListener('input', () => {
    resetMelt();
    ui.meltAmountLabel.hidden = !isLightningAddress(ui.meltInput.value);
  });
  ui.meltAmount.addEventListener('input', resetMelt);

  /** The quote for what was pasted: an invoice as it is; a Lightning address asked for an invoice of the amount. */
  const quoteFor = async (text: string): Promise<MeltQuoteBolt11Response> => {
    if (!isLightningAddress(text)) return quoteInvoice(wallet, text);
    const sats = Number(ui.meltAmount.value);
    if (!Number.isSafeInteger(sats) || sats <= 0) throw new LightningAddressError('Enter how many sats to send to this address.');
    setStatus(ui.meltStatus, `Asking ${text.split('@')[1]} for an invoice…`);
    const q = await quoteInvoice(wallet, await invoiceFromAddress(text, sats));
    if (q.amount.toNumber() !== sats) throw new LightningAddressError(`The invoice from ${text} is for ${q.amount.toNumber()} sats, not ${sats}: not paid.`);
    return q;
  };

  ui.meltForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = ui.meltInput.value.trim();
    if (!text) return;
    resetMelt();
    ui.meltQuote.disabled = true;
    setStatus(ui.meltStatus, 'Asking the mint what paying it takes…');
    quoteFor(text)
      .then((q) => {
        quote = q;
        const amount = q.amount.toNumber();
        const reserve = q.fee_reserve.toNumber();
        const enough = amount + reserve <= wallet.balance();
        setStatus(
          ui.meltStatus,
          `Pays ${amount} sats, plus a Lightning fee of at most ${reserve} sats (what the payment does not use comes back).` +
            (enough ? '' : ` The wallet holds ${wallet.balance()} sats: not enough.`),
          !enough,
        );
        ui.meltPay.hidden = !enough;
        ui.meltPay.textContent = `Pay ${amount} sats`;
      })
      .catch((err: unknown) => setStatus(ui.meltStatus, err instanceof LightningAddressError ? err.message : describeMintError(err, wallet.mint, 'pay this invoice'), true))
      .finally(() => (ui.meltQuote.disabled = false));
  });

  ui.meltPay.addEventListener('click', () => {
    const q = quote;
    if (!q) return;
    ui.meltPay.disabled = true;
    setStatus(ui.meltStatus, 'Paying…');
    payInvoice(wallet, q)
      .then(({ paid, back, pending }) => {
        resetMelt();
        if (pending) return setStatus(ui.meltStatus, 'The payment is on its way; the page checks it again when you come back.');
        ui.meltInput.value = '';
        setStatus(ui.meltStatus, `Paid: ${paid} sats left the wallet (${q.amount.toNumber()} to the invoice, ${paid - q.amount.toNumber()} in fees); ${back} sats of the fee reserve came back.`);
      })
      .catch((err: unknown) => setStatus(ui.meltStatus, describeMintError(err, wallet.mint, 'pay this invoice'), true))
      .finally(() => {
        ui.meltPay.disabled = false;
        changed();
      });
  });

  return {
    render(balance) {
      ui.button.disabled = balance === 0;
      const last = wallet.state().lastWithdrawal;
      ui.showLast.hidden = !last || !ui.withdrawal.hidden;
    },
  };
}
